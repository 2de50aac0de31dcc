# bash completion for amber: verbs, their options, container names, image
# directories and files. Installed as <datadir>/bash-completion/completions/amber.
#
# The verbs and options are read from `amber --help` and `amber VERB --help`
# of the amber being completed (once per shell and program), so they follow
# the program as it changes. Container names are the state directories under
# $AMBER_STATE_DIR (default /run/amber; readable by root only).

# _amber_parse PROG [VERB]: caches, under "PROG VERB", the options
# (_amber_opts), the options that take a value (_amber_valopts) and the
# verbs (_amber_verbs, for PROG alone) of CLI11's help.
declare -gA _amber_opts _amber_valopts _amber_verbs
_amber_parse() {
  local prog=$1 verb=${2:-} key="$1 ${2:-}" line section="" spec names n opts="" valopts="" verbs=""
  [[ -n ${_amber_opts[$key]+set} ]] && return 0
  while IFS= read -r line; do
    if [[ $line =~ ^([A-Z][A-Za-z\ ]*):$ ]]; then
      section=${BASH_REMATCH[1],,}
      continue
    fi
    # Entries start with two spaces; a long entry's text is on the next
    # line, indented further.
    [[ $line =~ ^\ \ [^\ ] ]] || continue
    spec=${line#  }
    spec=${spec%%  *}
    names=${spec%% *}
    case $section in
      options)
        for n in ${names//,/ }; do
          opts+=" $n"
          [[ $spec == *" "* ]] && valopts+=" $n"
        done
        ;;
      subcommands) verbs+=" $names" ;;
    esac
  done < <("$prog" ${verb:+"$verb"} --help 2>/dev/null)
  _amber_opts[$key]=$opts
  _amber_valopts[$key]=$valopts
  _amber_verbs[$key]=$verbs
}

_amber_containers() {
  local root=${AMBER_STATE_DIR:-/run/amber} d
  for d in "$root"/*/; do
    [[ -d $d ]] && printf '%s\n' "$(basename "$d")"
  done
}

_amber() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
  local prog=${COMP_WORDS[0]} i w verb="" verb_at=0 npos=0
  # `amber` from PATH, or the path typed (./build/amber).
  if ! [[ -x $prog ]] && ! command -v "$prog" >/dev/null 2>&1; then prog=amber; fi
  COMPREPLY=()

  local top="$prog "
  _amber_parse "$prog"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    if [[ " ${_amber_valopts[$top]} " == *" $w "* ]]; then
      ((i++))
    elif [[ $w != -* ]]; then
      verb=$w verb_at=$i
      break
    fi
  done

  # The value of an option.
  case $prev in
    -D | --images-dir | --rootfs)
      mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      return
      ;;
    --key | --log-file)
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      return
      ;;
    --pid)
      mapfile -t COMPREPLY < <(compgen -W "$(cd /proc && printf '%s ' [0-9]*)" -- "$cur")
      return
      ;;
    --net)
      mapfile -t COMPREPLY < <(compgen -W "none veth" -- "$cur")
      return
      ;;
    --external)
      mapfile -t COMPREPLY < <(compgen -W "pid uts ipc net mnt cgroup user time" -- "$cur")
      return
      ;;
  esac

  if [[ -z $verb ]]; then
    if [[ $cur == -* ]]; then
      mapfile -t COMPREPLY < <(compgen -W "${_amber_opts[$top]}" -- "$cur")
    else
      mapfile -t COMPREPLY < <(compgen -W "${_amber_verbs[$top]}" -- "$cur")
    fi
    return
  fi

  _amber_parse "$prog" "$verb"
  local key="$prog $verb"
  # Words after the verb: options (and their values), positionals, and
  # after `--` the command of run and exec.
  for ((i = verb_at + 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    if [[ $w == -- ]]; then
      if ((COMP_CWORD == i + 1)); then
        mapfile -t COMPREPLY < <(compgen -c -- "$cur" | sort -u)
      else
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      fi
      return
    elif [[ " ${_amber_valopts[$key]} " == *" $w "* ]]; then
      ((i++))
    elif [[ $w != -* ]]; then
      ((npos++))
    fi
  done

  # Another value-taking option not handled above (--name, --env, ...): free text.
  [[ " ${_amber_valopts[$key]} " == *" $prev "* ]] && return
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "${_amber_opts[$key]}" -- "$cur")
    return
  fi
  ((npos == 0)) || return 0
  case $verb in
    show) mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
    exec | kill | logs | attach | thaw | check | dump | recover)
      mapfile -t COMPREPLY < <(compgen -W "$(_amber_containers)" -- "$cur")
      ;;
  esac
}
complete -F _amber amber
