# bash completion for liveupdatectl(8)
_liveupdatectl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]:-}

	if ((COMP_CWORD == 1)); then
		mapfile -t COMPREPLY < <(compgen -W 'status check hold get --help --version' -- "$cur")
		return
	fi
	case $cmd in
	status) mapfile -t COMPREPLY < <(compgen -W '--json --help' -- "$cur") ;;
	check)
		if [[ ${COMP_WORDS[COMP_CWORD - 1]} == --kernel ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$(ls /usr/lib/modules 2>/dev/null)" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W '--json --kernel --sessions --initramfs --help' -- "$cur")
		fi ;;
	hold)
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W '--detach --help' -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		fi ;;
	get)
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W '--finish --all --help' -- "$cur")
		elif ((COMP_CWORD == 3)); then
			mapfile -t COMPREPLY < <(compgen -W '--all' -- "$cur")
		elif ((COMP_CWORD == 4)); then
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		fi ;;
	esac
}
complete -F _liveupdatectl liveupdatectl
