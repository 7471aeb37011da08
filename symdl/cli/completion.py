"""``symdl completion bash|zsh|fish``: a shell completion script, generated from the ``symdl`` argument parser itself.

The subcommands, their options and the options' choices are read from
:func:`symdl.cli.parser.build_parser`; rule names (the targets of derive,
check, codegen, verify and report, and the values of ``--activation``,
``--loss``, …) from :data:`symdl.cli.rule_table.RULES`, so that writing the
script imports no SymPy. zsh uses the bash script through ``bashcompinit``;
fish gets its own ``complete`` lines.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field

from .common import EXIT_OK, PROG, out

__all__ = ["SHELLS", "cmd_completion", "completion_script"]

SHELLS = ("bash", "zsh", "fish")

#: Metavars whose values are rule names; those whose values are paths.
_RULE_METAVARS = {"RULE"}
_PATH_METAVARS = {"FILE.py", "DIR", "MODEL", "DATA.npz"}
#: Subcommands whose positional arguments are rule names.
_RULE_TARGETS = {"derive", "check", "codegen", "verify", "report"}


@dataclass
class _Option:
    flags: list[str]
    help: str
    takes_value: bool
    values: str = ""  # "rules", "files", or "" (a free value); with choices, the choices
    choices: list[str] = field(default_factory=list)


@dataclass
class _Command:
    name: str
    help: str
    options: list[_Option]
    positional: str  # "rules", "files", "choices" (those of its positional argument) or ""
    choices: list[str] = field(default_factory=list)


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise AssertionError("the symdl parser has subcommands")


def _option(action: argparse.Action) -> _Option:
    takes_value = action.nargs != 0
    choices = [str(c) for c in action.choices] if action.choices else []
    metavar = action.metavar if isinstance(action.metavar, str) else ""
    values = "rules" if metavar in _RULE_METAVARS else "files" if metavar in _PATH_METAVARS else ""
    return _Option(list(action.option_strings), " ".join((action.help or "").split()), takes_value, values, choices)


def _commands() -> tuple[list[_Option], list[_Command]]:
    from .parser import build_parser

    parser = build_parser()
    top = [_option(a) for a in parser._actions if a.option_strings]
    subparsers = _subparsers(parser)
    helps = {choice.dest: choice.help or "" for choice in subparsers._choices_actions}
    commands = []
    for name, command in subparsers.choices.items():
        options = [_option(a) for a in command._actions if a.option_strings]
        positionals = [a for a in command._actions if not a.option_strings]
        choices = [str(c) for a in positionals if a.choices for c in a.choices]
        positional = "rules" if name in _RULE_TARGETS else "choices" if choices else "files" if positionals else ""
        commands.append(_Command(name, helps.get(name, ""), options, positional, choices))
    return top, commands


def _rule_names() -> list[str]:
    from .listing import rule_entries

    return [entry["name"] for entry in rule_entries()]


def _words(items: list[str]) -> str:
    return shlex.quote(" ".join(items))


def _bash() -> str:
    top, commands = _commands()
    rules = _words(_rule_names())
    lines = [
        f"# bash completion for {PROG}: eval \"$({PROG} completion bash)\"",
        f"_{PROG}() {{",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" command="" i',
        '    (( COMP_CWORD > 0 )) && prev="${COMP_WORDS[COMP_CWORD-1]}"',
        f"    local rules={rules}",
        "    for (( i = 1; i < COMP_CWORD; i++ )); do",
        '        case "${COMP_WORDS[i]}" in -*) ;; *) command="${COMP_WORDS[i]}"; break ;; esac',
        "    done",
        "    COMPREPLY=()",
        '    if [[ -z "$command" ]]; then',
        f'        COMPREPLY=($(compgen -W {_words([c.name for c in commands] + [f for o in top for f in o.flags])} -- "$cur"))',
        "        return 0",
        "    fi",
        '    case "$command" in',
    ]
    for command in commands:
        lines.append(f"    {command.name})")
        lines.append('        case "$prev" in')
        free = [f for o in command.options if o.takes_value and not o.choices and not o.values for f in o.flags]
        for option in command.options:
            if not option.takes_value or not (option.choices or option.values):
                continue
            if option.choices:
                reply = f'COMPREPLY=($(compgen -W {_words(option.choices)} -- "$cur"))'
            elif option.values == "rules":
                reply = 'COMPREPLY=($(compgen -W "$rules" -- "$cur"))'
            else:
                reply = 'COMPREPLY=($(compgen -f -- "$cur"))'
            lines.append(f"            {'|'.join(option.flags)}) {reply}; return 0 ;;")
        if free:  # a number, a K=V, a variable's name: nothing to offer
            lines.append(f"            {'|'.join(free)}) return 0 ;;")
        lines.append("        esac")
        flags = [f for o in command.options for f in o.flags]
        lines.append('        if [[ "$cur" == -* ]]; then')
        lines.append(f'            COMPREPLY=($(compgen -W {_words(flags)} -- "$cur"))')
        if command.positional == "rules":
            lines.append("        else")
            lines.append('            COMPREPLY=($(compgen -W "$rules" -- "$cur"))')
        elif command.positional == "choices":
            lines.append("        else")
            lines.append(f'            COMPREPLY=($(compgen -W {_words(command.choices)} -- "$cur"))')
        elif command.positional == "files":
            lines.append("        else")
            lines.append('            COMPREPLY=($(compgen -f -- "$cur"))')
        lines.append("        fi")
        lines.append("        ;;")
    lines += ["    esac", "    return 0", "}", f"complete -F _{PROG} {PROG}"]
    return "\n".join(lines) + "\n"


def _zsh() -> str:
    return (f"#compdef {PROG}\n# zsh completion for {PROG}: eval \"$({PROG} completion zsh)\" (after compinit)\n"
            "autoload -U +X bashcompinit && bashcompinit\n" + _bash())


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_option(option: _Option, condition: str, rules: str) -> str:
    parts = [f"complete -c {PROG}"]
    if condition:
        parts.append(f"-n {_fish_quote(condition)}")
    for flag in option.flags:
        parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
    if option.takes_value:
        parts.append("-r" if option.values == "files" else "-x")
        if option.choices:
            parts.append(f"-a {_fish_quote(' '.join(option.choices))}")
        elif option.values == "rules":
            parts.append(f"-a {rules}")
    if option.help:
        parts.append(f"-d {_fish_quote(option.help[:80])}")
    return " ".join(parts)


def _fish() -> str:
    top, commands = _commands()
    rules = _fish_quote(" ".join(_rule_names()))
    lines = [f"# fish completion for {PROG}: {PROG} completion fish | source", f"complete -c {PROG} -f"]
    lines += [_fish_option(o, "__fish_use_subcommand", rules) for o in top]
    for command in commands:
        lines.append(f"complete -c {PROG} -n '__fish_use_subcommand' -a {command.name} -d {_fish_quote(command.help[:80])}")
    for command in commands:
        seen = f"__fish_seen_subcommand_from {command.name}"
        lines += [_fish_option(o, seen, rules) for o in command.options]
        if command.positional == "rules":
            lines.append(f"complete -c {PROG} -n {_fish_quote(seen)} -a {rules}")
        elif command.positional == "choices":
            lines.append(f"complete -c {PROG} -n {_fish_quote(seen)} -a {_fish_quote(' '.join(command.choices))}")
        elif command.positional == "files":
            lines.append(f"complete -c {PROG} -n {_fish_quote(seen)} -F")
    return "\n".join(lines) + "\n"


def completion_script(shell: str) -> str:
    """The completion script of ``symdl`` for ``shell`` (one of :data:`SHELLS`)."""
    scripts = {"bash": _bash, "zsh": _zsh, "fish": _fish}
    if shell not in scripts:
        raise ValueError(f"no completion for shell {shell!r}; expected one of {', '.join(SHELLS)}")
    return scripts[shell]()


def cmd_completion(args: argparse.Namespace) -> int:
    out(completion_script(args.shell).rstrip("\n"))
    return EXIT_OK
