
#compdef ocis

_ocis_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _OCIS_COMPLETE=complete_zsh ocis)
}

compdef _ocis_completion ocis

