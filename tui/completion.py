"""`bulk-transcribe completion bash|zsh|fish`: a shell completion script written from the parser.

No dependency: the script is generated from argparse's own description of the commands (their
options, the choices of each, whether one takes a file), so it never drifts from `--help`.
"""

from __future__ import annotations

import argparse

PROG = "bulk-transcribe"
FILE_METAVARS = {"FILE", "DIR", "SESSION"}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, tuple[argparse.ArgumentParser, str]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return {name: (sub, helps.get(name, "")) for name, sub in action.choices.items()}
    return {}


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and a.help is not argparse.SUPPRESS]


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0 and not isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction,
                                                         argparse.BooleanOptionalAction, argparse._HelpAction,
                                                         argparse._VersionAction))


def bash_script(parser: argparse.ArgumentParser) -> str:
    subs = _subparsers(parser)
    cases = []
    for name, (sub, _) in subs.items():
        opts = " ".join(o for a in _options(sub) for o in a.option_strings)
        value_cases = []
        for a in _options(sub):
            if not _takes_value(a):
                continue
            flags = "|".join(a.option_strings)
            if a.choices:
                words = " ".join(map(str, a.choices))
                value_cases.append(f'            {flags}) COMPREPLY=($(compgen -W "{words}" -- "$cur")); return;;')
            elif a.metavar in FILE_METAVARS or a.dest in ("output_dir",):
                value_cases.append(f'            {flags}) COMPREPLY=($(compgen -f -- "$cur")); return;;')
            else:
                value_cases.append(f"            {flags}) return;;")
        cases.append(f"""        {name})
            case "$prev" in
{chr(10).join(value_cases)}
            esac
            if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "{opts}" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
            ;;""")
    top = " ".join(subs) + " " + " ".join(o for a in _options(parser) for o in a.option_strings)
    return f"""# bash completion for {PROG}: eval "$({PROG} completion bash)" (e.g. in ~/.bashrc)
_bulk_transcribe() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}" cmd="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in -*) ;; *) cmd="${{COMP_WORDS[i]}}"; break;; esac
    done
    case "$cmd" in
        "") COMPREPLY=($(compgen -W "{top}" -- "$cur"));;
{chr(10).join(cases)}
    esac
}}
complete -o filenames -F _bulk_transcribe {PROG}
"""


def zsh_script(parser: argparse.ArgumentParser) -> str:
    return (f"# zsh completion for {PROG}: eval \"$({PROG} completion zsh)\" (e.g. in ~/.zshrc)\n"
            "autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n"
            + bash_script(parser))


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish_script(parser: argparse.ArgumentParser) -> str:
    subs = _subparsers(parser)
    lines = [f"# fish completion for {PROG}: {PROG} completion fish > ~/.config/fish/completions/{PROG}.fish",
             f"complete -c {PROG} -f"]
    for name, (_, help_) in subs.items():
        lines.append(f"complete -c {PROG} -n __fish_use_subcommand -a {name} -d {_fish_quote(help_)}")
    for name, (sub, _) in subs.items():
        cond = f"'__fish_seen_subcommand_from {name}'"
        for a in _options(sub):
            flags = " ".join((f"-l {o[2:]}" if o.startswith("--") else f"-s {o[1:]}") for o in a.option_strings)
            extra = ""
            if _takes_value(a):
                if a.choices:
                    extra = f" -x -a {_fish_quote(' '.join(map(str, a.choices)))}"
                elif a.metavar in FILE_METAVARS or a.dest == "output_dir":
                    extra = " -r -F"
                else:
                    extra = " -x"
            lines.append(f"complete -c {PROG} -n {cond} {flags}{extra} -d {_fish_quote((a.help or '')[:60])}")
        if any(not a.option_strings for a in sub._actions):
            lines.append(f"complete -c {PROG} -n {cond} -F")
    return "\n".join(lines) + "\n"


SCRIPTS = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}
