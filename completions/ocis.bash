_ocis_completion() {
    local line="${COMP_LINE:0:$COMP_POINT}" IFS=$' \t\n'
    local -a words
    read -a words <<< "$line"            # no -r: `Lab\ No` stays one word, as the shell reads it
    local cword=$(( ${#words[@]} - 1 ))
    [[ "$line" =~ [[:space:]]$ ]] && cword=$(( cword + 1 ))
    local cur="${words[cword]}"
    IFS=$'\n'
    COMPREPLY=( $( env COMP_WORDS="$line" COMP_CWORD=$cword _OCIS_COMPLETE=complete_bash "$1" ) )
    local prefix="" i
    [[ "$cur" == *:* && "$COMP_WORDBREAKS" == *:* ]] && prefix="${cur%"${cur##*:}"}"
    for i in "${!COMPREPLY[@]}"; do
        COMPREPLY[i]="${COMPREPLY[i]#"$prefix"}"
        # a name with a space or a shell character is inserted quoted (`Lab\ Notes:/`)
        [[ "${COMPREPLY[i]}" == *[[:space:]\'\"\$\\\&\;\(\)]* ]] && printf -v 'COMPREPLY[i]' '%q' "${COMPREPLY[i]}"
    done
    if [[ ${#COMPREPLY[@]} -eq 1 && "${COMPREPLY[0]}" == */ ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}

complete -o default -F _ocis_completion ocis
complete -o default -F _ocis_completion ocis-py
