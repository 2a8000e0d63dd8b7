# bash completion for bpfcmpdel(8)
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

_bpfcmpdel()
{
	local cur prev words cword cmd i
	_init_completion || return

	cmd=""
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-*) ;;
		*) cmd=${words[i]}; break ;;
		esac
	done
	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '--json --quiet --help --version' -- "$cur"))
		else
			COMPREPLY=($(compgen -W 'info delete update gc stats help' -- "$cur"))
		fi
		return
	fi
	case $prev in
	pinned) _filedir; return ;;
	id | key | expect | value | tombstone | older-than | below | batch | field | name) return ;;
	--clock) COMPREPLY=($(compgen -W 'monotonic boottime' -- "$cur")); return ;;
	--unit) COMPREPLY=($(compgen -W 'ns s' -- "$cur")); return ;;
	esac
	case $cmd in
	delete | update | gc)
		if ((cword == i + 1)); then
			COMPREPLY=($(compgen -W 'pinned id name help' -- "$cur"))
			return
		fi
		;;
	esac
	case $cmd in
	delete) COMPREPLY=($(compgen -W 'key expect lock tombstone hex' -- "$cur")) ;;
	update) COMPREPLY=($(compgen -W 'key expect value lock hex' -- "$cur")) ;;
	gc) COMPREPLY=($(compgen -W 'field below older-than --clock --unit tombstone batch dry-run hex' -- "$cur")) ;;
	info) COMPREPLY=($(compgen -W 'help' -- "$cur")) ;;
	stats) COMPREPLY=($(compgen -W '--json help' -- "$cur")) ;;
	esac
} &&
	complete -F _bpfcmpdel bpfcmpdel
