{{/* Names and labels shared by every manifest. */}}
{{- define "ara.name" -}}
{{ default .Chart.Name .Values.nameOverride }}
{{- end }}

{{- define "ara.fullname" -}}
{{ default .Release.Name .Values.fullnameOverride }}
{{- end }}

{{- define "ara.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ara.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ara.labels" -}}
{{ include "ara.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}
