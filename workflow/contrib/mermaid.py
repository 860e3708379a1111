"""A definition as a Mermaid ``stateDiagram-v2``, so officers can review a policy as a picture.

The diagram is generated from the loaded `Definition`, never drawn by hand, so it cannot drift
from the rules the engine runs. Each edge names the trigger an officer types (``cases fire …
TRIGGER``) beside the Chinese label they know it by.
"""

from __future__ import annotations

from datetime import date

from workflow.definition.model import Definition

INDENT = "    "
# Characters that would end a Mermaid label or statement early, as entity codes Mermaid renders.
_ESCAPES = {"#": "#35;", '"': "#quot;", ":": "#58;", ";": "#59;", "\n": " "}


def to_mermaid(definition: Definition) -> str:
    """Mermaid text: labelled states, ``[*]`` into the initial state, terminals into ``[*]``."""
    lines = ["stateDiagram-v2", INDENT + _comment(definition)]
    lines += [INDENT + f'state "{_text(s.label)}" as {s.name}' for s in definition.states]
    lines.append(
        INDENT + f"[*] --> {definition.initial} : {_edge_label('open', definition.open.label)}"
    )
    for transition in definition.transitions:
        label = _edge_label(transition.trigger, transition.label)
        lines += [
            INDENT + f"{source} --> {transition.dest} : {label}" for source in transition.sources
        ]
    lines += [INDENT + f"{s.name} --> [*]" for s in definition.states if s.terminal]
    return "\n".join(lines) + "\n"


def _comment(definition: Definition) -> str:
    """A Mermaid comment naming the text the picture shows (A1.1: the source document)."""
    policy = definition.policy
    window = f"{policy.effective_from.isoformat()}–{_iso(policy.effective_until)}"
    text = (
        f"{definition.title} ({definition.name} v{definition.version}); {policy.document} {window}"
    )
    return "%% " + " ".join(text.split())  # a comment ends at the line break


def _iso(day: date | None) -> str:
    return day.isoformat() if day is not None else "长期"


def _edge_label(trigger: str, label: str) -> str:
    return f"{trigger} {_text(label)}"


def _text(label: str) -> str:
    """One pass, so the ``;`` of an entity just written is never escaped again."""
    return "".join(_ESCAPES.get(char, char) for char in label)
