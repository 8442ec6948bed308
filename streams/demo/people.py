"""What simulated citizens say and when simulated agents come and go (pure event builders)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.events import AgentPresenceChanged, MessageReceived, Presence

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday morning
URGENT = (
    "socorro, meu companheiro me bateu e ameaçou me matar",
    "meu filho foi preso em flagrante agora",
    "minha mãe está sem o remédio e corre risco de vida",
    "vou ser despejada amanhã com meus filhos",
)
PROBLEMS = (
    "meu ex marido não paga a pensão das crianças",
    "meu filho está cumprindo pena e quer progressão de regime",
    "meu irmão responde a um processo criminal",
    "preciso de um medicamento que o sus não fornece",
    "o inss negou minha aposentadoria",
    "preciso de vaga em creche para minha filha",
    "estou com problema no aluguel, o dono quer aumentar",
    "minha mãe é idosa e foi deixada num asilo",
    "recebi uma cobrança indevida do banco",
    "tenho uma dúvida sobre um documento",
)
REST_OF_ANSWERS = ("2", "2", "1 e 2")  # no danger now; income band 2; RG and CPF


def is_urgent(n: int) -> bool:
    return n % 10 == 0


def goes_silent(n: int) -> bool:
    return n % 5 == 1


def citizen_messages(n: int, start: timedelta = timedelta(0)) -> list[MessageReceived]:
    """Citizen n's messages: an urgent one says so at once; most answer the bot about a
    problem of any area, from the capital or the interior; a fifth say hello and go silent."""
    if is_urgent(n):
        texts = [URGENT[(n // 10) % len(URGENT)]]
    elif goes_silent(n):
        texts = ["oi, preciso de ajuda"]
    else:
        region = "1" if n % 3 else "3"
        texts = ["oi", PROBLEMS[(n // 10 + n) % len(PROBLEMS)], region, *REST_OF_ANSWERS]
    out = []
    for i, text in enumerate(texts):
        at = T0 + start + timedelta(seconds=n * 30 + i * 5)
        out.append(
            MessageReceived(
                event_id=f"day-{n}-{i}",
                occurred_at=at,
                correlation_id=f"day-{n}-0",
                subject_id=f"citizen-{n}",
                channel="whatsapp",
                contact_id=f"contact-{n}",
                contact_address=f"+55119{n:08d}",
                channel_account_id="106540352242922",
                provider_message_id=f"wamid-{n}-{i}",
                kind="text",
                text=text,
                received_at=at,
            )
        )
    return out


def presence(agent: str, now: Presence, at: timedelta) -> AgentPresenceChanged:
    return AgentPresenceChanged(
        event_id=f"presence-{agent}-{now}-{int(at.total_seconds())}",
        occurred_at=T0 + at,
        correlation_id=f"presence-{agent}",
        agent_id=agent,
        presence=now,
        changed_at=T0 + at,
    )


def morning(agents: list[str]) -> list[AgentPresenceChanged]:
    """Three quarters of the office logs in before the first citizen writes."""
    return [
        presence(a, "available", -timedelta(minutes=5))
        for i, a in enumerate(sorted(agents))
        if i % 4 != 3
    ]


def midday(agents: list[str], at: timedelta) -> list[AgentPresenceChanged]:
    """Some go to lunch (away) or home (offline); the last quarter arrives."""
    ordered = sorted(agents)
    leaving = [
        presence(a, "away" if i % 8 == 1 else "offline", at)
        for i, a in enumerate(ordered)
        if i % 8 in (1, 5)
    ]
    arriving = [presence(a, "available", at) for i, a in enumerate(ordered) if i % 4 == 3]
    return leaving + arriving
