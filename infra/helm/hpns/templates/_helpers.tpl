{{/* Chart name, truncated to 63 characters (a DNS label). */}}
{{- define "hpns.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-scoped base name of every object: <release>-hpns unless the release name already holds it. */}}
{{- define "hpns.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hpns.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The region of this release, checked: required, a region name (lower-case letters and digits, 2-16), and one
of knownRegions. Every template that names the region goes through here, so a bad value fails the render.
*/}}
{{- define "hpns.region" -}}
{{- $region := required "region is required: install one release per region (-f values-us.yaml or -f values-de.yaml)" .Values.region -}}
{{- if not (regexMatch "^[a-z0-9]{2,16}$" $region) -}}
{{- fail (printf "region %q is not a region name (lower-case letters and digits, 2-16 characters)" $region) -}}
{{- end -}}
{{- if not (has $region .Values.knownRegions) -}}
{{- fail (printf "region %q is not one of knownRegions %v" $region .Values.knownRegions) -}}
{{- end -}}
{{- $region -}}
{{- end -}}

{{/* The existing Secret with this region's credentials. */}}
{{- define "hpns.secretName" -}}
{{- required "secrets.existingSecret is required: the name of an existing Secret (docs/deployment.md lists its keys)" .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "hpns.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Labels of every object; call with (dict "root" $ "component" "ingress|worker"). */}}
{{- define "hpns.labels" -}}
helm.sh/chart: {{ include "hpns.chart" .root }}
{{ include "hpns.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: hpns
hpns.mattermost.com/region: {{ include "hpns.region" .root }}
{{- end -}}

{{/* Selector labels; call with (dict "root" $ "component" "ingress|worker"). */}}
{{- define "hpns.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hpns.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
Grace period after SIGTERM: the process's shutdown deadline, the preStop pause before it, and 10 s for the
runtime to exit. Call with (dict "shutdownTimeoutMs" n "preStopSleepSeconds" n).
*/}}
{{- define "hpns.terminationGracePeriodSeconds" -}}
{{- add (div (add .shutdownTimeoutMs 999) 1000) .preStopSleepSeconds 10 -}}
{{- end -}}

{{/* The mattermost-push-proxy.json of this release: targets, ids and file paths (no key material). */}}
{{- define "hpns.proxyConfig" -}}
{{- $dir := .Values.secrets.mountPath -}}
{{- $apple := list -}}
{{- range $i, $t := .Values.providers.apple -}}
{{- $where := printf "providers.apple[%d]" $i -}}
{{- $entry := dict "Type" (required (printf "%s.type is required" $where) $t.type) "ApplePushTopic" (required (printf "%s.topic is required" $where) $t.topic) "ApplePushUseDevelopment" (default false $t.useDevelopment) -}}
{{- if $t.authKeySecretKey -}}
{{- $_ := set $entry "AppleAuthKeyFile" (printf "%s/%s" $dir $t.authKeySecretKey) -}}
{{- $_ := set $entry "AppleAuthKeyID" (required (printf "%s.authKeyId is required with authKeySecretKey" $where) $t.authKeyId) -}}
{{- $_ := set $entry "AppleTeamID" (required (printf "%s.teamId is required with authKeySecretKey" $where) $t.teamId) -}}
{{- else if $t.certSecretKey -}}
{{- $_ := set $entry "ApplePushCertPrivate" (printf "%s/%s" $dir $t.certSecretKey) -}}
{{- else -}}
{{- fail (printf "%s needs authKeySecretKey (token auth) or certSecretKey (certificate auth)" $where) -}}
{{- end -}}
{{- $apple = append $apple $entry -}}
{{- end -}}
{{- $android := list -}}
{{- range $i, $t := .Values.providers.android -}}
{{- $where := printf "providers.android[%d]" $i -}}
{{- $android = append $android (dict "Type" (required (printf "%s.type is required" $where) $t.type) "ServiceFileLocation" (printf "%s/%s" $dir (required (printf "%s.serviceAccountSecretKey is required" $where) $t.serviceAccountSecretKey))) -}}
{{- end -}}
{{- dict "ApplePushSettings" $apple "AndroidPushSettings" $android | toPrettyJson -}}
{{- end -}}

{{/* redisCluster as `true` or `false`; anything else fails the render (loadConfig would refuse it at start). */}}
{{- define "hpns.redisCluster" -}}
{{- $value := .Values.redisCluster -}}
{{- if not (kindIs "bool" $value) -}}
{{- fail (printf "redisCluster must be true or false, got %v" $value) -}}
{{- end -}}
{{- $value -}}
{{- end -}}

{{/* queueShards, a whole number 1-256: the ingress and the workers both get it, so they agree on the queues. */}}
{{- define "hpns.queueShards" -}}
{{- $value := .Values.queueShards -}}
{{- if not (regexMatch "^[0-9]+$" (toString $value)) -}}
{{- fail (printf "queueShards must be a whole number 1-256, got %v" $value) -}}
{{- end -}}
{{- if or (lt (int $value) 1) (gt (int $value) 256) -}}
{{- fail (printf "queueShards must be 1-256, got %v" $value) -}}
{{- end -}}
{{- int $value -}}
{{- end -}}

{{/* redisWaitReplicas, a whole number 0-5. */}}
{{- define "hpns.redisWaitReplicas" -}}
{{- $value := .Values.redisWaitReplicas -}}
{{- if or (not (regexMatch "^[0-9]+$" (toString $value))) (gt (int $value) 5) -}}
{{- fail (printf "redisWaitReplicas must be a whole number 0-5, got %v" $value) -}}
{{- end -}}
{{- int $value -}}
{{- end -}}

{{/* Environment shared by the ingress and the workers (non-secret; secrets are named by *_FILE paths). */}}
{{- define "hpns.commonEnv" -}}
{{- $region := include "hpns.region" . -}}
{{- $dir := .Values.secrets.mountPath -}}
HPNS_CONFIG_FILE: /etc/hpns/config/mattermost-push-proxy.json
HPNS_REGIONS: {{ $region | quote }}
HPNS_KNOWN_REGIONS: {{ join "," .Values.knownRegions | quote }}
HPNS_ADMIN_LISTEN_ADDRESS: {{ printf "0.0.0.0:%d" (int .Values.adminPort) | quote }}
HPNS_LOG_LEVEL: {{ .Values.config.logLevel | quote }}
HPNS_SEND_TIMEOUT_SEC: {{ .Values.config.sendTimeoutSec | quote }}
HPNS_RETRY_TIMEOUT_SEC: {{ .Values.config.retryTimeoutSec | quote }}
HPNS_PUSH_TTL_SEC: {{ .Values.config.pushTtlSec | quote }}
{{ printf "HPNS_REDIS_URL_%s_FILE" (upper $region) }}: {{ printf "%s/%s" $dir .Values.secrets.keys.redisUrl | quote }}
{{ printf "HPNS_REDIS_CLUSTER_%s" (upper $region) }}: {{ include "hpns.redisCluster" . | quote }}
{{ printf "HPNS_QUEUE_SHARDS_%s" (upper $region) }}: {{ include "hpns.queueShards" . | quote }}
HPNS_REDIS_WAIT_REPLICAS: {{ include "hpns.redisWaitReplicas" . | quote }}
HPNS_PAYLOAD_KEYS_FILE: {{ printf "%s/%s" $dir .Values.secrets.keys.payloadKeys | quote }}
HPNS_TOKEN_HASH_KEY_FILE: {{ printf "%s/%s" $dir .Values.secrets.keys.tokenHashKey | quote }}
HPNS_ADMIN_TOKEN_FILE: {{ printf "%s/%s" $dir (required "secrets.keys.adminToken is required: the admin port binds 0.0.0.0" .Values.secrets.keys.adminToken) | quote }}
{{- with .Values.secrets.keys.redisCa }}
HPNS_REDIS_CA_FILE: {{ printf "%s/%s" $dir . | quote }}
{{- end }}
{{- with .Values.config.payloadKeyId }}
HPNS_PAYLOAD_KEY_ID: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Environment of the workers only: what reaches provider credentials (the ingress reads none). */}}
{{- define "hpns.credentialsEnv" -}}
{{- $dir := .Values.secrets.mountPath -}}
{{- range .Values.providers.apple }}
{{- if and .certSecretKey .certPasswordSecretKey }}
{{ printf "HPNS_APPLE_CERT_PASSWORD_%s_FILE" (upper .type) }}: {{ printf "%s/%s" $dir .certPasswordSecretKey | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Probes on the admin server. Startup allows for the wait on Redis before the admin server listens. */}}
{{- define "hpns.probes" -}}
startupProbe:
  httpGet:
    path: /healthz
    port: admin
  periodSeconds: 5
  failureThreshold: 24
livenessProbe:
  httpGet:
    path: /healthz
    port: admin
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: admin
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end -}}

{{/* Volumes of both Pods: the Secret (files), the proxy config, and a small writable /tmp. */}}
{{/* Volumes of a Deployment; called with (dict "root" . "component" "ingress"|"worker"). */}}
{{- define "hpns.volumes" -}}
{{- $keys := .root.Values.secrets.keys -}}
- name: secrets
  secret:
    secretName: {{ include "hpns.secretName" .root }}
    defaultMode: 288 # 0440: owner and group (fsGroup) read
    {{- if eq .component "ingress" }}
    # The ingress never calls a provider: it gets the keys it reads, and no APNs or FCM credential.
    items:
      {{- range compact (list $keys.redisUrl $keys.payloadKeys $keys.tokenHashKey $keys.adminToken $keys.redisCa) }}
      - key: {{ . }}
        path: {{ . }}
      {{- end }}
    {{- end }}
- name: proxy-config
  configMap:
    name: {{ include "hpns.fullname" .root }}-proxy-config
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 16Mi
{{- end -}}

{{- define "hpns.volumeMounts" -}}
- name: secrets
  mountPath: {{ .Values.secrets.mountPath }}
  readOnly: true
- name: proxy-config
  mountPath: /etc/hpns/config
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Zone, then node spread; call with (dict "root" $ "component" "ingress|worker"). */}}
{{- define "hpns.topologySpread" -}}
{{- if .root.Values.topologySpread.enabled -}}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "hpns.selectorLabels" . | nindent 8 }}
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "hpns.selectorLabels" . | nindent 8 }}
{{- end }}
{{- end -}}

{{/* HPNS_EXTRA_LISTENERS from ingress.extraListeners: `mode@:port,…`. */}}
{{- define "hpns.extraListeners" -}}
{{- $entries := list -}}
{{- range . -}}
{{- $entries = append $entries (printf "%s@:%d" .mode (int .port)) -}}
{{- end -}}
{{- join "," $entries -}}
{{- end -}}

{{/* HPNS_REGION_HOSTS from ingress.regionHosts: `host=region,…`, sorted by host. */}}
{{- define "hpns.regionHosts" -}}
{{- $entries := list -}}
{{- range $host, $region := . -}}
{{- $entries = append $entries (printf "%s=%s" $host $region) -}}
{{- end -}}
{{- join "," $entries -}}
{{- end -}}
