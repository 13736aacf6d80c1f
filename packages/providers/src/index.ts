export { type PushProvider } from './push-provider';
