#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Fails when a translation listed in po/LINGUAS is broken or incomplete: a
# format string that does not match its original, a fuzzy message or an
# untranslated one would show a user a wrong, outdated or English text.
#
# Usage: check-translations.sh MSGFMT SOURCE_ROOT

set -eu

msgfmt=${1:?usage: check-translations.sh MSGFMT SOURCE_ROOT}
root=${2:?usage: check-translations.sh MSGFMT SOURCE_ROOT}
status=0

languages=$(grep -v -e '^#' -e '^[[:space:]]*$' "$root/po/LINGUAS" || true)

for lang in $languages; do
  po="$root/po/$lang.po"
  if [ ! -f "$po" ]; then
    echo "po/LINGUAS lists $lang, but po/$lang.po does not exist" >&2
    status=1
    continue
  fi
  # msgfmt writes its statistics to standard error.
  if ! stats=$(LC_ALL=C "$msgfmt" --check --statistics -o /dev/null "$po" 2>&1); then
    printf '%s\n' "$stats" >&2
    echo "po/$lang.po has errors: fix them, then run the pinhole-update-po target" >&2
    status=1
    continue
  fi
  if printf '%s\n' "$stats" | grep -q -E 'fuzzy|untranslated'; then
    echo "po/$lang.po is incomplete: $stats" >&2
    echo "translate the untranslated messages and review the fuzzy ones" >&2
    status=1
    continue
  fi
  echo "po/$lang.po: $stats"
done

exit "$status"
