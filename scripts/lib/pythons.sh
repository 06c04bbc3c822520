# Sourced by setup.sh and the install checks: finding an interpreter by version, and pip's noise filter.

find_python() { # the interpreter for version $1 (e.g. 3.12), or nothing
  local v=$1 candidate
  for candidate in "$(command -v "python$v" 2>/dev/null || true)" \
    "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/"python$v"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] &&
      "$candidate" -c 'import sys; sys.exit(f"{sys.version_info[0]}.{sys.version_info[1]}" != sys.argv[1])' "$v" 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
}

quiet() { "$@" 2> >(grep -v "^WARNING: Location" >&2); }
