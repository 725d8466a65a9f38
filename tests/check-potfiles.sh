#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Fails when po/POTFILES.in and the sources disagree: a file under src/ with a
# translatable string that is not listed would ship untranslated, and a
# listed file that no longer exists breaks `pinhole-pot` for translators.
#
# Usage: check-potfiles.sh SOURCE_ROOT

set -eu

root=${1:?usage: check-potfiles.sh SOURCE_ROOT}
potfiles="$root/po/POTFILES.in"
status=0

listed=$(grep -v -e '^#' -e '^[[:space:]]*$' "$potfiles" || true)

for file in $listed; do
  if [ ! -f "$root/$file" ]; then
    echo "po/POTFILES.in lists $file, which does not exist: remove it from the list" >&2
    status=1
  fi
done

# GNU style writes a space before the parenthesis: _ ("Text").
marker='(^|[^[:alnum:]_])(N|C|NC)?_[[:space:]]*\([[:space:]]*"|translatable="yes"'
for path in $(cd "$root" && grep -r -l -I -E "$marker" src | LC_ALL=C sort); do
  if ! printf '%s\n' "$listed" | grep -q -x -F "$path"; then
    echo "$path has translatable strings but is missing from po/POTFILES.in: add it" >&2
    status=1
  fi
done

if ! printf '%s\n' "$listed" | LC_ALL=C sort -c 2>/dev/null; then
  echo "po/POTFILES.in is not sorted: sort it with LC_ALL=C sort" >&2
  status=1
fi

if [ "$status" -eq 0 ]; then
  echo "po/POTFILES.in lists $(printf '%s\n' "$listed" | grep -c .) files, in step with src/"
fi
exit "$status"
