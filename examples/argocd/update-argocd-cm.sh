#!/usr/bin/env bash
# Rewrites argocd-cm.yaml from health/<Kind>.lua: keeps the file's header up to "data:", then one
# key per script, its body indented as a YAML block scalar. ArgoCdHealthTest checks they match.
set -euo pipefail
cd "$(dirname "$0")"
{
  sed '/^data:$/q' argocd-cm.yaml
  for kind in CurationJob PackJob PretrainRun FinetuneRun; do
    echo "  resource.customizations.health.tessera.dev_${kind}: |"
    # Blank lines stay empty, so the block scalar reads back byte for byte.
    awk '{ if ($0 == "") print ""; else print "    " $0 }' "health/${kind}.lua"
  done
} > argocd-cm.yaml.new
mv argocd-cm.yaml.new argocd-cm.yaml
