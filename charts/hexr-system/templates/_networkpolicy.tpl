{{/*
One component's NetworkPolicy: include "hexr.networkPolicy" (dict "root" $ "component" "injector"
"ingressPorts" (list 9443) "healthPort" 8080). Ingress: ingressPorts from anywhere, the health port from
networkPolicy.kubeletCIDRs (any source when empty; the pod's own node is always admitted). Egress: the
API server and DNS only.
*/}}
{{- define "hexr.networkPolicy" -}}
{{- $root := .root }}
{{- $np := $root.Values.networkPolicy }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ printf "%s-%s" (include "hexr.fullname" $root) .component }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "hexr.componentLabels" (list $root .component) | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "hexr.selectorLabels" (list $root .component) | nindent 6 }}
  policyTypes: ["Ingress", "Egress"]
  ingress:
    {{- range .ingressPorts }}
    - ports:
        - { port: {{ . }}, protocol: TCP }
    {{- end }}
    - ports:
        - { port: {{ .healthPort }}, protocol: TCP }
      {{- with $np.kubeletCIDRs }}
      from:
        {{- range . }}
        - ipBlock: { cidr: {{ . | quote }} }
        {{- end }}
      {{- end }}
  egress:
    - to:
        {{- range $np.apiServerCIDRs }}
        - ipBlock: { cidr: {{ . | quote }} }
        {{- end }}
      ports:
        {{- range $np.apiServerPorts }}
        - { port: {{ . }}, protocol: TCP }
        {{- end }}
    - ports:
        - { port: 53, protocol: UDP }
        - { port: 53, protocol: TCP }
      {{- with $np.dnsTo }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
