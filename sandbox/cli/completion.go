package cli

import (
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"
)

// completionShells are the shells `completion` writes a script for.
var completionShells = []string{"bash", "zsh", "fish", "powershell"}

// completionCommand prints a shell completion script. bash, zsh and
// PowerShell ask the binary itself for candidates at each TAB (urfave/cli's
// hidden --generate-bash-completion flag, enabled on the app), so they
// follow the binary they call; fish gets a static script generated from
// the command tree.
func completionCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: " + strings.Join(completionShells, ", "),
		ArgsUsage: "SHELL",
		Description: `Writes the completion script of SHELL (` + strings.Join(completionShells, ", ") + `) to
standard output. Load it in the current shell, or install it for good:

  source <(fhirsandbox completion bash)          # bash, now
  fhirsandbox completion bash > /etc/bash_completion.d/fhirsandbox
  fhirsandbox completion zsh > "${fpath[1]}/_fhirsandbox"   # then: compinit
  fhirsandbox completion fish > ~/.config/fish/completions/fhirsandbox.fish
  fhirsandbox completion powershell | Out-String | Invoke-Expression`,
		Action: completionAction,
	}
}

func completionAction(c *ucli.Context) error {
	if c.NArg() != 1 {
		return usagef("completion: want exactly one SHELL argument (%s)", strings.Join(completionShells, ", "))
	}
	w := c.App.Writer
	switch shell := c.Args().First(); shell {
	case "bash":
		fmt.Fprint(w, bashCompletion)
	case "zsh":
		fmt.Fprint(w, zshCompletion)
	case "powershell":
		fmt.Fprint(w, powershellCompletion)
	case "fish":
		script, err := c.App.ToFishCompletion()
		if err != nil {
			return fmt.Errorf("completion fish: %w", err)
		}
		fmt.Fprint(w, script)
	default:
		return usagef("completion: %q is not a supported shell (want %s)", shell, strings.Join(completionShells, ", "))
	}
	return nil
}

// The scripts below are urfave/cli v2's autocomplete scripts
// (autocomplete/ in its repository), bound to the name fhirsandbox.

const bashCompletion = `# bash completion for fhirsandbox; load with: source <(fhirsandbox completion bash)
_fhirsandbox_init_completion() {
  COMPREPLY=()
  _get_comp_words_by_ref "$@" cur prev words cword
}

_fhirsandbox_bash_autocomplete() {
  if [[ "${COMP_WORDS[0]}" != "source" ]]; then
    local cur opts base words cword
    COMPREPLY=()
    cur="${COMP_WORDS[COMP_CWORD]}"
    if declare -F _init_completion >/dev/null 2>&1; then
      _init_completion -n "=:" || return
    else
      _fhirsandbox_init_completion -n "=:" || return
    fi
    words=("${words[@]:0:$cword}")
    if [[ "$cur" == "-"* ]]; then
      requestComp="${words[*]} ${cur} --generate-bash-completion"
    else
      requestComp="${words[*]} --generate-bash-completion"
    fi
    opts=$(eval "${requestComp}" 2>/dev/null)
    COMPREPLY=($(compgen -W "${opts}" -- ${cur}))
    return 0
  fi
}

complete -o bashdefault -o default -o nospace -F _fhirsandbox_bash_autocomplete fhirsandbox
`

const zshCompletion = `#compdef fhirsandbox
# zsh completion for fhirsandbox; load with: source <(fhirsandbox completion zsh)

_fhirsandbox_zsh_autocomplete() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi

  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}

compdef _fhirsandbox_zsh_autocomplete fhirsandbox
`

// powershellCompletion passes the whole command line typed so far (not
// only the word under the cursor, as urfave/cli's sample script does), so
// subcommands and their flags complete too.
const powershellCompletion = `# PowerShell completion for fhirsandbox; load with:
#   fhirsandbox completion powershell | Out-String | Invoke-Expression
Register-ArgumentCompleter -Native -CommandName fhirsandbox, fhirsandbox.exe -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $line = $commandAst.ToString()
    if ($line.Length -gt $cursorPosition) { $line = $line.Substring(0, $cursorPosition) }
    $words = @($line -split '\s+' | Where-Object { $_ -ne '' })
    $exe = $words[0]
    $rest = @()
    if ($words.Count -gt 1) { $rest = $words[1..($words.Count - 1)] }
    if ($wordToComplete -ne '' -and -not $wordToComplete.StartsWith('-') -and $rest.Count -gt 0) {
        # a word being typed is what to complete, not part of the request
        # (a flag being typed is: it asks for the flags)
        $rest = @($rest | Select-Object -First ($rest.Count - 1))
    }
    & $exe @rest --generate-bash-completion 2>$null | Where-Object { $_ -like "$wordToComplete*" } | ForEach-Object {
        $candidate = ($_ -split ':', 2)[0]
        [System.Management.Automation.CompletionResult]::new($candidate, $candidate, 'ParameterValue', $candidate)
    }
}
`
