{{/* The chart's name, or nameOverride. */}}
{{- define "alert-publisher.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The name of every object: fullnameOverride, else the release name when it already contains
the chart's name (a release called `alert-publisher` keeps plain names), else
`<release>-<name>`.
*/}}
{{- define "alert-publisher.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "alert-publisher.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "alert-publisher.selectorLabels" -}}
app.kubernetes.io/name: {{ include "alert-publisher.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "alert-publisher.labels" -}}
{{ include "alert-publisher.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "alert-publisher.serviceAccount" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "alert-publisher.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Whether the service watches Kubernetes Secrets for targets (config.discovery.kubernetes.enabled). */}}
{{- define "alert-publisher.discovery" -}}
{{- if dig "discovery" "kubernetes" "enabled" false (.Values.config | default dict) -}}true{{- end -}}
{{- end -}}

{{/* The namespaces whose Secrets are watched: config.discovery.kubernetes.namespaces, else the release's. */}}
{{- define "alert-publisher.discoveryNamespaces" -}}
{{- $namespaces := dig "discovery" "kubernetes" "namespaces" list (.Values.config | default dict) -}}
{{- if $namespaces -}}
{{- toJson $namespaces -}}
{{- else -}}
{{- toJson (list .Release.Namespace) -}}
{{- end -}}
{{- end -}}
