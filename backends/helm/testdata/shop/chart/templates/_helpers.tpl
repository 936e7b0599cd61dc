{{/*
Helm's standard labels, on every object and pod of the chart. Tycho's own
labels (app.kubernetes.io/part-of and name) stay, and so do the selectors.
*/}}
{{- define "shop.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" | toJson }}
app.kubernetes.io/instance: {{ .Release.Name | toJson }}
app.kubernetes.io/managed-by: {{ .Release.Service | toJson }}
{{- end }}

{{/*
The image of a service: [registry/]repository[:tag][@digest], the
registry being global.imageRegistry when set. Arguments: image, global.
*/}}
{{- define "shop.image" -}}
{{- $ref := .image.repository -}}
{{- with (.global.imageRegistry | default .image.registry) }}{{ $ref = printf "%s/%s" . $ref }}{{ end -}}
{{- with .image.tag }}{{ $ref = printf "%s:%s" $ref . }}{{ end -}}
{{- with .image.digest }}{{ $ref = printf "%s@%s" $ref . }}{{ end -}}
{{- toJson $ref -}}
{{- end }}
