/**
 * @hpns/tools: repository tooling. Today that is the architecture test: dependency direction and import rules
 * (STYLE.md convention 1, DESIGN.md "Layout").
 */
export {
  ALLOWED_SUBPATH_IMPORTS,
  APP_LAYER,
  checkBoundaries,
  formatViolations,
  PACKAGE_LAYERS,
  TESTKIT_PACKAGE,
  TOOLS_PACKAGE,
  type BoundaryRule,
  type Violation,
} from './boundaries';
export {
  findWorkspaces,
  listSourceFiles,
  SKIPPED_DIRS,
  SOURCE_EXTENSIONS,
  type Manifest,
  type Workspace,
} from './workspaces';
