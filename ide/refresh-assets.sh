#!/usr/bin/env bash
# Refreshes the GraphiQL files that salesgraph embeds (ide/assets/) from the
# npm registry, and checks them against ide/assets/SHA256SUMS.
#
#   ide/refresh-assets.sh            fetch the files the manifest names, at the
#                                    versions it names; fail on any digest that
#                                    differs (the committed files stay as they are)
#   ide/refresh-assets.sh --update   after editing a version in SHA256SUMS: fetch,
#                                    then write the new files' digests into it
#                                    (review `git diff ide/assets` before committing)
#
# The manifest is the only list: each line is "<sha256>  <package>@<version>/<file>"
# (the format of sha256sum, so `cd ide/assets && sha256sum -c SHA256SUMS` checks
# the committed files). Each package@version is fetched once with `npm pack`,
# which checks the tarball against the registry's published integrity; nothing is
# installed and no package script runs. ide/assets.go reads the same manifest for
# the page's Subresource Integrity values, and TestEmbeddedFilesMatchManifest
# checks that the committed files match it.
#
# Needs npm (any version), tar, sha256sum and network access to the npm registry.
set -euo pipefail
cd "$(dirname "$0")/assets"

update=false
case "${1:-}" in
  "") ;;
  --update) update=true ;;
  *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

manifest=SHA256SUMS
here=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The files the manifest names, in its order, and their packages.
mapfile -t files < <(grep -v '^#' "$manifest" | awk 'NF == 2 { print $2 }')
mapfile -t packages < <(printf '%s\n' "${files[@]}" | sed -E 's#^((@[^/]+/)?[^/@]+@[^/]+)/.*#\1#' | awk '!seen[$0]++')

for spec in "${packages[@]}"; do
  echo "npm pack $spec"
  tarball=$(cd "$work" && npm pack --silent --ignore-scripts "$spec" | tail -n 1)
  mkdir -p "$work/$spec"
  tar -xzf "$work/$tarball" -C "$work/$spec" --strip-components=1
done

for f in "${files[@]}"; do
  mkdir -p "$(dirname "$work/out/$f")"
  cp "$work/$f" "$work/out/$f"
done

if $update; then
  { grep '^#' "$manifest"; (cd "$work/out" && sha256sum "${files[@]}"); } > "$work/SHA256SUMS"
  cp "$work/SHA256SUMS" "$manifest"
elif ! (cd "$work/out" && sha256sum --check --strict --quiet "$here/$manifest"); then
  echo "the fetched files differ from $manifest: nothing was changed" >&2
  exit 1
fi

# Replace the embedded files only now that every digest is known good, and
# drop the files of versions no longer listed.
find . -mindepth 1 -maxdepth 2 -type d -name '*@*' -exec rm -rf {} +
cp -R "$work/out/." .

# The packages' licences travel with their files (MIT: the notice must
# accompany copies, and the binary is one).
{
  echo "Licences of the files in this folder, copied from their npm packages by ide/refresh-assets.sh."
  for spec in "${packages[@]}"; do
    echo
    echo "================================================================"
    echo "$spec ($(node -p "require('$work/$spec/package.json').license" 2>/dev/null || echo 'see package.json'))"
    echo "================================================================"
    if lic=$(ls "$work/$spec" | grep -iE '^licen[cs]e' | head -n 1) && [[ -n $lic ]]; then
      cat "$work/$spec/$lic"
    else
      echo "The package ships no licence file; its package.json declares the licence above."
    fi
  done
} > LICENSES.txt

sha256sum --check --strict --quiet "$manifest"
echo "ide/assets: ${#files[@]} files of ${#packages[@]} packages match $manifest"
