{{/* ---------------------------------------------------------------- names and labels */}}

{{- define "hexr.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Base name of every resource: fullnameOverride, else the release name when it says "hexr", else <release>-hexr. */}}
{{- define "hexr.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else if contains "hexr" .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-hexr" .Release.Name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "hexr.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "hexr.labels" -}}
helm.sh/chart: {{ include "hexr.chart" . }}
app.kubernetes.io/name: {{ include "hexr.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hexr
{{- end }}

{{/* Selector labels of one component: include "hexr.selectorLabels" (list $ "injector") */}}
{{- define "hexr.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "hexr.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* Labels of one component's objects: include "hexr.componentLabels" (list $ "injector") */}}
{{- define "hexr.componentLabels" -}}
{{ include "hexr.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "hexr.injector.name" -}}
{{- printf "%s-injector" (include "hexr.fullname" .) }}
{{- end }}

{{- define "hexr.registrar.name" -}}
{{- printf "%s-registrar" (include "hexr.fullname" .) }}
{{- end }}

{{- define "hexr.injector.tlsSecretName" -}}
{{- if .Values.webhook.certificate.existingSecret }}
{{- .Values.webhook.certificate.existingSecret }}
{{- else }}
{{- printf "%s-tls" (include "hexr.injector.name" .) }}
{{- end }}
{{- end }}

{{/* ---------------------------------------------------------------- shared settings */}}

{{/* The trust domain: trustDomain (spire.trustDomain may repeat it; hexr.validate checks they agree). */}}
{{- define "hexr.trustDomain" -}}
{{- .Values.trustDomain }}
{{- end }}

{{/*
Namespaces that never hold agents, as a JSON list: hexr-system, kube-system, the release namespace and
injector.excluded_namespaces. The webhook's selectors, the injector's config and the registrar's
config all use this one list.
*/}}
{{- define "hexr.excludedNamespaces" -}}
{{- $l := list "hexr-system" "kube-system" .Release.Namespace }}
{{- range (get (.Values.injector | default dict) "excluded_namespaces" | default list) }}
{{- $l = append $l . }}
{{- end }}
{{- $l | uniq | toJson }}
{{- end }}

{{/* Pod and container security: non-root, read-only root file system, no capabilities, RuntimeDefault seccomp. */}}
{{- define "hexr.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .runAsUser }}
runAsGroup: {{ .runAsGroup }}
fsGroup: {{ .runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "hexr.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .runAsUser }}
runAsGroup: {{ .runAsGroup }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* ---------------------------------------------------------------- injector config */}}

{{/* The spire section of the injector's config, from spire.* */}}
{{- define "hexr.injector.spire" -}}
{{- $s := .Values.spire -}}
{{- $socket := dict "mode" $s.agentSocket.mode -}}
{{- if eq $s.agentSocket.mode "csi" }}
{{- $_ := set $socket "driver" $s.agentSocket.csiDriver }}
{{- else }}
{{- $_ := set $socket "path" $s.agentSocket.hostPath }}
{{- end }}
{{- $out := dict "socket" $socket "socket_name" $s.agentSocket.socketName -}}
{{- if $s.adminSocket.hostPath }}
{{- $_ := set $out "admin_socket" (dict "host_path" $s.adminSocket.hostPath "name" $s.adminSocket.socketName) }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/*
The injector section: values.injector, plus what the chart owns (trust_domain, images, policy, spire,
the excluded namespaces, and the sidecar's redis section when redis.mode is external).
*/}}
{{- define "hexr.injector.section" -}}
{{- $inj := deepCopy (.Values.injector | default dict) -}}
{{- $_ := set $inj "trust_domain" (include "hexr.trustDomain" .) -}}
{{- $images := dict "sidecar" .Values.images.sidecar "envoy" .Values.images.envoy "pull_policy" .Values.images.pullPolicy -}}
{{- if .Values.images.iptables }}
{{- $_ := set $images "iptables" .Values.images.iptables }}
{{- end }}
{{- $_ := set $inj "images" $images -}}
{{- $_ := set $inj "policy" (dict "config_map" .Values.policy.configMapName "bundle_key" "bundle.tar.gz") -}}
{{- $_ := set $inj "spire" (include "hexr.injector.spire" . | fromYaml) -}}
{{- $_ := set $inj "excluded_namespaces" (without (include "hexr.excludedNamespaces" . | fromJsonArray) "hexr-system" "kube-system") -}}
{{- if eq .Values.redis.mode "external" }}
{{- $sidecar := get $inj "sidecar" | default dict }}
{{- $redis := dict "url" .Values.redis.url }}
{{- if .Values.redis.keyPrefix }}
{{- $_ := set $redis "key_prefix" .Values.redis.keyPrefix }}
{{- end }}
{{- $_ := set $sidecar "redis" $redis }}
{{- if .Values.redis.sharedRate }}
{{- $_ := set $sidecar "rate" (merge (dict "shared" true) (get $sidecar "rate" | default dict)) }}
{{- end }}
{{- $_ := set $inj "sidecar" $sidecar }}
{{- end }}
{{- if not (get $inj "excluded_namespaces") }}
{{- $_ := unset $inj "excluded_namespaces" }}
{{- end }}
{{- toYaml $inj }}
{{- end }}

{{/* The whole file `hexr injector --config` reads. */}}
{{- define "hexr.injector.configFile" -}}
listen:
  address: 0.0.0.0
  port: 9443
tls:
  cert_file: /etc/hexr/webhook-tls/tls.crt
  key_file: /etc/hexr/webhook-tls/tls.key
health:
  address: 0.0.0.0
  port: 8080
# in-cluster service account
kube: {}
log:
  level: {{ .Values.webhook.logLevel }}
injector:
  {{- include "hexr.injector.section" . | nindent 2 }}
{{- end }}

{{/* ---------------------------------------------------------------- registrar config */}}

{{- define "hexr.registrar.section" -}}
{{- $r := .Values.registrar -}}
{{- $out := dict "trust_domain" (include "hexr.trustDomain" .) "require_injected" $r.requireInjected -}}
{{- if $r.cluster }}{{ $_ := set $out "cluster" $r.cluster }}{{ end }}
{{- if $r.parentIdTemplate }}{{ $_ := set $out "parent_id_template" $r.parentIdTemplate }}{{ end }}
{{- if $r.owner }}{{ $_ := set $out "owner" $r.owner }}{{ end }}
{{- if $r.x509SvidTtl }}{{ $_ := set $out "x509_svid_ttl" (int $r.x509SvidTtl) }}{{ end }}
{{- if $r.jwtSvidTtl }}{{ $_ := set $out "jwt_svid_ttl" (int $r.jwtSvidTtl) }}{{ end }}
{{- $ex := without (include "hexr.excludedNamespaces" . | fromJsonArray) "hexr-system" "kube-system" }}
{{- if $ex }}{{ $_ := set $out "excluded_namespaces" $ex }}{{ end }}
{{- toYaml $out }}
{{- end }}

{{/* The whole file `hexr registrar --config` reads; the socket path is the same in both layouts. */}}
{{- define "hexr.registrar.configFile" -}}
spire:
  server_socket: /run/spire/server-sockets/{{ .Values.registrar.spireServerSocket.name }}
registrar:
  {{- include "hexr.registrar.section" . | nindent 2 }}
reconcile_interval_seconds: {{ int .Values.registrar.reconcileIntervalSeconds }}
health:
  address: 0.0.0.0
  port: {{ int .Values.registrar.healthPort }}
# in-cluster service account
kube: {}
log:
  level: {{ .Values.registrar.logLevel }}
{{- end }}

{{/* ---------------------------------------------------------------- webhook certificate */}}

{{/*
CA, serving certificate and key of the webhook, as a dict of base64 strings {ca, crt, key}, computed
once per render (the Secret and the MutatingWebhookConfiguration must agree): the existing Secret's
when there is one (lookup; so upgrades keep them), else a new CA and a certificate for
<svc>.<ns>.svc and <svc>.<ns>.svc.cluster.local (helm template and first installs).
With certificate.existingSecret, the chart neither reads nor writes the key: {ca} only, from webhook.caBundle.
Call with the root context: include "hexr.webhook.tls" $ | fromYaml
*/}}
{{- define "hexr.webhook.tls" -}}
{{- if not (hasKey $ "hexrWebhookTLS") }}
{{- $tls := dict }}
{{- if .Values.webhook.certificate.existingSecret }}
{{- $tls = dict "ca" .Values.webhook.caBundle }}
{{- else }}
{{- $secret := lookup "v1" "Secret" .Release.Namespace (include "hexr.injector.tlsSecretName" .) }}
{{- $data := dict }}
{{- if $secret }}{{ $data = get $secret "data" | default dict }}{{ end }}
{{- if and (get $data "ca.crt") (get $data "tls.crt") (get $data "tls.key") }}
{{- $tls = dict "ca" (get $data "ca.crt") "crt" (get $data "tls.crt") "key" (get $data "tls.key") }}
{{- else }}
{{- $svc := include "hexr.injector.name" . }}
{{- $cn := printf "%s.%s.svc" $svc .Release.Namespace }}
{{- $days := int .Values.webhook.certificate.validityDays }}
{{- $ca := genCA (printf "%s-ca" $svc) $days }}
{{- $cert := genSignedCert $cn nil (list $cn (printf "%s.cluster.local" $cn)) $days $ca }}
{{- $tls = dict "ca" ($ca.Cert | b64enc) "crt" ($cert.Cert | b64enc) "key" ($cert.Key | b64enc) }}
{{- end }}
{{- end }}
{{- $_ := set $ "hexrWebhookTLS" $tls }}
{{- end }}
{{- toYaml (get $ "hexrWebhookTLS") }}
{{- end }}

{{/* The caBundle of both webhook entries: webhook.caBundle with a url (the server is not ours), else the CA above. */}}
{{- define "hexr.webhook.caBundle" -}}
{{- if .Values.webhook.url }}
{{- .Values.webhook.caBundle }}
{{- else }}
{{- get (include "hexr.webhook.tls" $ | fromYaml) "ca" }}
{{- end }}
{{- end }}

{{/* ---------------------------------------------------------------- checks the schema cannot express */}}

{{- define "hexr.checkCaBundle" -}}
{{- $pem := b64dec . }}
{{- if not (contains "-----BEGIN CERTIFICATE-----" $pem) }}
{{- fail "webhook.caBundle must be base64 of a PEM CA certificate (base64 -w0 ca.crt)" }}
{{- end }}
{{- end }}

{{- define "hexr.validate" -}}
{{- $v := .Values }}
{{- if and $v.spire.trustDomain (ne $v.spire.trustDomain $v.trustDomain) }}
{{- fail (printf "spire.trustDomain (%s) must equal trustDomain (%s): agents' SPIFFE IDs are issued in SPIRE's trust domain" $v.spire.trustDomain $v.trustDomain) }}
{{- end }}
{{- if $v.webhook.url }}
{{- if not (hasPrefix "https://" $v.webhook.url) }}
{{- fail "webhook.url must be an https:// URL (the API server calls webhooks over TLS only)" }}
{{- end }}
{{- if not $v.webhook.caBundle }}
{{- fail "webhook.url is set, so webhook.caBundle is required: base64 of the PEM CA that signed the external webhook's serving certificate" }}
{{- end }}
{{- end }}
{{- if and $v.webhook.certificate.existingSecret (not $v.webhook.caBundle) (not (hasKey $v.webhook.annotations "cert-manager.io/inject-ca-from")) }}
{{- fail "webhook.certificate.existingSecret is set, so webhook.caBundle is required (base64 PEM of the CA that signed it), unless webhook.annotations has cert-manager.io/inject-ca-from" }}
{{- end }}
{{- with $v.webhook.caBundle }}{{ include "hexr.checkCaBundle" . }}{{ end }}
{{- if eq $v.redis.mode "external" }}
{{- if not (regexMatch "^rediss?://[^\\s]+$" $v.redis.url) }}
{{- fail "redis.mode is external, so redis.url is required: redis://host:6379 or rediss://host:6380" }}
{{- end }}
{{- if hasKey (get ($v.injector | default dict) "sidecar" | default dict) "redis" }}
{{- fail "set Redis either with redis.mode=external and redis.url, or in injector.sidecar.redis, not both" }}
{{- end }}
{{- else if $v.redis.url }}
{{- fail "redis.url is set but redis.mode is none: set redis.mode=external" }}
{{- end }}
{{- $excluded := include "hexr.excludedNamespaces" . | fromJsonArray }}
{{- range $v.policy.namespaces }}
{{- if has . $excluded }}
{{- fail (printf "policy.namespaces: %s never holds agents (hexr-system, kube-system, the release namespace and injector.excluded_namespaces are excluded)" .) }}
{{- end }}
{{- end }}
{{- if and $v.policy.namespaces (not $v.policy.bundle) }}
{{- fail "policy.namespaces is set, so policy.bundle is required: --set-file policy.bundle=bundle.b64 (base64 -w0 bundle.tar.gz > bundle.b64)" }}
{{- end }}
{{- if $v.registrar.enabled }}
{{- if and (eq $v.registrar.layout "spireServerSidecar") (has (int $v.registrar.healthPort) (list 8080 8081 8082 8083 9443 9988)) }}
{{- fail (printf "registrar.healthPort %d: in layout spireServerSidecar the registrar shares the SPIRE server pod's network, where the upstream chart listens on 8080, 8081 (gRPC), 8082, 8083, 9443 and 9988; pick another, e.g. 8089" (int $v.registrar.healthPort)) }}
{{- end }}
{{- $tpl := $v.registrar.parentIdTemplate | default "spiffe://{trustDomain}/spire/agent/k8s_psat/{cluster}/{nodeUid}" }}
{{- if and (contains "{cluster}" $tpl) (not $v.registrar.cluster) }}
{{- fail "registrar.cluster is required: the parent ID template uses {cluster} (the k8s_psat cluster name of SPIRE's node attestor)" }}
{{- end }}
{{- end }}
{{- end }}
