{{/* Names and labels shared by every manifest of the chart. */}}

{{- define "rowcast.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "rowcast.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "rowcast.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rowcast.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "rowcast.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "rowcast.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "rowcast.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rowcast.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* rowcast.yaml as the pod reads it: the chart's values in rowcast's own config format. */}}
{{- define "rowcast.config" -}}
# rowcast.yaml rendered by the Helm chart; `rowcast --help-config` documents every key.
log_level: {{ .Values.config.logLevel }}
shutdown_grace: {{ .Values.config.shutdownGraceSeconds }}
http:
  listen: {{ printf "0.0.0.0:%d" (int .Values.http.port) | quote }}
{{- if .Values.http.tokenSecret.name }}
  token: ${ROWCAST_HTTP_TOKEN}
{{- end }}
kafka:
  brokers: {{ .Values.kafka.brokers | quote }}
{{- with .Values.kafka.rdkafka }}
  rdkafka:
{{- range $k, $v := . }}
    {{ $k | quote }}: {{ $v | toString | quote }}
{{- end }}
{{- end }}
pipelines:
{{- if .Values.pipelines }}
{{ toYaml .Values.pipelines | indent 2 }}
{{- else }} []
{{- end }}
{{- end -}}
