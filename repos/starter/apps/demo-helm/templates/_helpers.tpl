{{/* Labels every object of the chart carries: which app, which release. */}}
{{- define "demo-helm.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The labels the Deployment selects its pods by (and the Service its endpoints). */}}
{{- define "demo-helm.selector" -}}
app: {{ .Release.Name }}
{{- end }}
