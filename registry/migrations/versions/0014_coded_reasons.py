"""reasons, purposes, legal bases, units and medications stored as codes, never free text

Revision ID: 0014_coded_reasons
Revises: 0013_newest_event_index
Create Date: 2026-12-07 22:00:00

Free text typed about a person (an override reason, a re-identification purpose or legal
basis, a dose's unit, an overridden medication or stage target) could hold who they are in
clear: a name with a birth date, an IIN written around any filter, an address. Every stored
value becomes a code of its list: the code itself, or the code whose ru/kk/en label the text
is (spaces and case aside), or else `unspecified`. The old text is kept nowhere: not in the
event's payload, not in its stored violations (their details and messages), not in the
episode's engine snapshot (rebuilt from the events when next needed).

The lists below are the code lists of registry/episodes/codes.yaml as of this revision,
frozen here so that the migration does the same thing whenever it runs.
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0014_coded_reasons"
down_revision = "0013_newest_event_index"
branch_labels = None
depends_on = None

UNSPECIFIED = "unspecified"
CODE_LENGTH = 40
# Shorter texts cannot name anyone, and replacing them inside a stored message would rewrite
# its own words and numbers ("2026 г."); longer ones are replaced wherever they stand alone.
SHORTEST_SCRUBBED = 3

_LISTS = {
    "override_reasons": {
        "clinical_judgement": (
            "клиническое решение врача, обоснованное в медицинской карте",
            "дәрігердің медициналық картада негізделген клиникалық шешімі",
            "clinical judgement of the treating physician, documented in the medical record",
        ),
        "medical_commission": (
            "решение врачебно-консультативной комиссии",
            "дәрігерлік-консультациялық комиссияның шешімі",
            "decision of the medical advisory commission",
        ),
        "transferred_with_dosing_record": (
            "переведён из другой программы с подтверждённой историей дозирования",
            "дозалау тарихы расталған басқа бағдарламадан ауыстырылды",
            "transferred from another programme with a confirmed dosing record",
        ),
        "split_dose": (
            "разделённая суточная доза (быстрый метаболизм, беременность)",
            "бөлінген тәуліктік доза (жылдам метаболизм, жүктілік)",
            "split daily dose (rapid metabolism, pregnancy)",
        ),
        "pregnancy": (
            "беременность или послеродовой период",
            "жүктілік немесе босанғаннан кейінгі кезең",
            "pregnancy or postpartum period",
        ),
        "persistent_withdrawal": (
            "сохраняются объективные признаки абстиненции на текущей дозе",
            "ағымдағы дозада абстиненцияның объективті белгілері сақталуда",
            "objective withdrawal signs persist at the current dose",
        ),
        "drug_interaction": (
            "лекарственное взаимодействие (например, рифампицин, антиретровирусная терапия)",
            "дәрілік өзара әрекеттесу (мысалы, рифампицин, антиретровирустық терапия)",
            "drug interaction (e.g. rifampicin, antiretroviral therapy)",
        ),
        "missed_doses_reinduction": (
            "повторная индукция после пропущенных доз",
            "өткізіп алған дозалардан кейінгі қайта индукция",
            "re-induction after missed doses",
        ),
        "inpatient_or_custody": (
            "лечение в стационаре или под стражей",
            "стационарда немесе қамауда емделу",
            "dosing during a hospital stay or in custody",
        ),
        "documented_travel_or_work": (
            "документально подтверждённая поездка или работа",
            "құжатпен расталған сапар немесе жұмыс",
            "documented travel or work",
        ),
        "lab_error": (
            "ошибка лаборатории или непригодный образец",
            "зертхана қатесі немесе жарамсыз үлгі",
            "laboratory error or unusable sample",
        ),
        "recording_error": (
            "исправление ошибки записи",
            "жазбадағы қатені түзету",
            "correction of a recording error",
        ),
        "age_verified_clinically": (
            "возраст подтверждён без документов (клиническая оценка)",
            "жасы құжатсыз расталды (клиникалық бағалау)",
            "age confirmed without documents (clinical assessment)",
        ),
        "exit_assessment_not_possible": (
            "итоговая оценка невозможна (пациент не явился или отказался)",
            "қорытынды бағалау мүмкін емес (пациент келмеді немесе бас тартты)",
            "exit assessment not possible (patient did not attend or declined)",
        ),
        "patient_declined": (
            "пациент отказался после разъяснения рисков",
            "пациент тәуекелдер түсіндірілгеннен кейін бас тартты",
            "patient declined after the risks were explained",
        ),
        "other": (
            "другая причина, описанная в медицинской карте",
            "медициналық картада сипатталған басқа себеп",
            "other reason, described in the medical record",
        ),
    },
    "reidentification_purposes": {
        "court_proceedings": (
            "судебное разбирательство",
            "сот талқылауы",
            "court proceedings",
        ),
        "criminal_investigation": (
            "уголовное расследование",
            "қылмыстық тергеу",
            "criminal investigation",
        ),
        "own_request": (
            "запрос самого лица (доступ к своим данным)",
            "адамның өз сұрауы (өз деректеріне қол жеткізу)",
            "the person's own request (access to their data)",
        ),
        "clinical_emergency": (
            "неотложная помощь лицу, не способному выразить свою волю",
            "өз еркін білдіре алмайтын адамға шұғыл көмек",
            "emergency care of a person unable to express their will",
        ),
        "public_health_emergency": (
            "угроза распространения инфекционного заболевания (отслеживание контактов)",
            "жұқпалы аурудың таралу қаупі (байланыстарды қадағалау)",
            "threat of spread of an infectious disease (contact tracing)",
        ),
        "death_investigation": (
            "установление обстоятельств смерти",
            "өлім мән-жайын анықтау",
            "investigation of a death",
        ),
        "continuity_of_care": (
            "продолжение лечения у другого поставщика с согласия лица",
            "адамның келісімімен басқа мекемеде емдеуді жалғастыру",
            "continuity of care with another provider, with the person's consent",
        ),
        "record_linkage_correction": (
            "исправление ошибочного объединения или разделения записей",
            "жазбаларды қате біріктіруді немесе бөлуді түзету",
            "correction of a wrong merge or split of records",
        ),
    },
    "legal_bases": {
        "court_decision": (
            "решение или определение суда",
            "соттың шешімі немесе ұйғарымы",
            "court decision or ruling",
        ),
        "written_consent": (
            "письменное согласие лица или его законного представителя (закон о персональных данных)",
            "адамның немесе оның заңды өкілінің жазбаша келісімі (дербес деректер туралы заң)",
            "written consent of the person or their legal representative (personal data law)",
        ),
        "investigation_request": (
            "запрос органа дознания, следствия или прокурора по уголовному делу (Кодекс о здоровье народа, статья о врачебной тайне)",
            "қылмыстық іс бойынша анықтау, тергеу органының немесе прокурордың сұрауы (Халық денсаулығы туралы кодекс, дәрігерлік құпия туралы бап)",
            "request of an inquiry or investigation body or a prosecutor in a criminal case (Code on Health, article on medical confidentiality)",
        ),
        "infection_threat": (
            "угроза распространения инфекционных заболеваний или массовых отравлений (Кодекс о здоровье народа)",
            "жұқпалы аурулардың немесе жаппай уланулардың таралу қаупі (Халық денсаулығы туралы кодекс)",
            "threat of spread of infectious diseases or mass poisoning (Code on Health)",
        ),
        "incapacity_emergency": (
            "помощь лицу, не способному выразить свою волю (Кодекс о здоровье народа)",
            "өз еркін білдіре алмайтын адамға көмек (Халық денсаулығы туралы кодекс)",
            "care of a person unable to express their will (Code on Health)",
        ),
        "legal_representative_request": (
            "запрос законного представителя несовершеннолетнего или недееспособного лица",
            "кәмелетке толмаған немесе әрекетке қабілетсіз адамның заңды өкілінің сұрауы",
            "request of the legal representative of a minor or legally incapable person",
        ),
        "other_law": (
            "иная норма закона, указанная в деле хранителей ключей",
            "кілт сақтаушылардың ісінде көрсетілген заңның өзге нормасы",
            "another provision of law, recorded in the custodians' file",
        ),
    },
    "units": {
        "mg": (
            "мг",
            "мг",
            "mg",
        ),
        "mcg": (
            "мкг",
            "мкг",
            "mcg",
        ),
        "g": (
            "г",
            "г",
            "g",
        ),
        "ml": (
            "мл",
            "мл",
            "ml",
        ),
        "unit": (
            "МЕ",
            "ХБ",
            "IU",
        ),
        "tablet": (
            "таблетка",
            "таблетка",
            "tablet",
        ),
    },
    "medications": {
        "methadone": (
            "метадон",
            "метадон",
            "methadone",
        ),
        "buprenorphine": (
            "бупренорфин",
            "бупренорфин",
            "buprenorphine",
        ),
        "buprenorphine_naloxone": (
            "бупренорфин с налоксоном",
            "бупренорфин мен налоксон",
            "buprenorphine with naloxone",
        ),
        "morphine": (
            "морфин пролонгированного действия",
            "ұзақ әсер ететін морфин",
            "slow-release oral morphine",
        ),
        "naltrexone": (
            "налтрексон",
            "налтрексон",
            "naltrexone",
        ),
        "naloxone": (
            "налоксон",
            "налоксон",
            "naloxone",
        ),
        "acamprosate": (
            "акампросат",
            "акампросат",
            "acamprosate",
        ),
        "disulfiram": (
            "дисульфирам",
            "дисульфирам",
            "disulfiram",
        ),
        "chlordiazepoxide": (
            "хлордиазепоксид",
            "хлордиазепоксид",
            "chlordiazepoxide",
        ),
        "diazepam": (
            "диазепам",
            "диазепам",
            "diazepam",
        ),
        "thiamine": (
            "тиамин",
            "тиамин",
            "thiamine",
        ),
        "other": (
            "другой препарат",
            "басқа дәрі",
            "other medication",
        ),
    },
}

_requests = sa.table(
    "reidentification_requests",
    sa.column("id", sa.Integer),
    sa.column("purpose", sa.Text),
    sa.column("legal_basis", sa.Text),
)
_episodes = sa.table(
    "episodes",
    sa.column("id", sa.Integer),
    sa.column("protocol_version_id", sa.Integer),
    sa.column("admission_override_reason", sa.Text),
    sa.column("engine_state", sa.JSON),
    sa.column("engine_state_event_id", sa.Integer),
)
_events = sa.table(
    "episode_events",
    sa.column("id", sa.Integer),
    sa.column("episode_id", sa.Integer),
    sa.column("type", sa.String),
    sa.column("payload", sa.JSON),
    sa.column("override_reason", sa.Text),
    sa.column("violations", sa.JSON),
)
_versions = sa.table(
    "protocol_versions",
    sa.column("id", sa.Integer),
    sa.column("protocol_id", sa.Integer),
    sa.column("document", sa.JSON),
)


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def _coder(name: str):
    """Return a function mapping stored text to a code of the list `name`."""
    index = {}
    for code, labels in _LISTS[name].items():
        for text in (code, *labels):
            index[_folded(text)] = code

    def code_of(value):
        if value is None:
            return None
        if not isinstance(value, str):
            return UNSPECIFIED
        return index.get(_folded(value), UNSPECIFIED)

    return code_of


def upgrade():
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        # Overwrite replaced and freed content with zeros: the old text leaves the file too.
        secure_delete = bind.exec_driver_sql("PRAGMA secure_delete").scalar()
        bind.exec_driver_sql("PRAGMA secure_delete = ON")
    _recode_requests(bind)
    _recode_admissions(bind)
    _recode_events(bind)
    for table, columns in (
        ("reidentification_requests", ("purpose", "legal_basis")),
        ("episodes", ("admission_override_reason",)),
        ("episode_events", ("override_reason",)),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(
                    column, existing_type=sa.Text(), type_=sa.String(length=CODE_LENGTH)
                )
    if sqlite:
        bind.exec_driver_sql(f"PRAGMA secure_delete = {int(secure_delete)}")


def downgrade():
    # The codes stay: the text they replaced is gone on purpose.
    for table, columns in (
        ("episode_events", ("override_reason",)),
        ("episodes", ("admission_override_reason",)),
        ("reidentification_requests", ("purpose", "legal_basis")),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(
                    column, existing_type=sa.String(length=CODE_LENGTH), type_=sa.Text()
                )


def _recode_requests(bind) -> None:
    purpose, basis = _coder("reidentification_purposes"), _coder("legal_bases")
    for row in bind.execute(
        sa.select(_requests.c.id, _requests.c.purpose, _requests.c.legal_basis)
    ):
        values = {"purpose": purpose(row.purpose), "legal_basis": basis(row.legal_basis)}
        if values != {"purpose": row.purpose, "legal_basis": row.legal_basis}:
            bind.execute(_requests.update().where(_requests.c.id == row.id).values(**values))


def _recode_admissions(bind) -> None:
    reason = _coder("override_reasons")
    column = _episodes.c.admission_override_reason
    for row in bind.execute(sa.select(_episodes.c.id, column).where(column.is_not(None))):
        code = reason(row.admission_override_reason)
        if code != row.admission_override_reason:
            update = _episodes.update().where(_episodes.c.id == row.id)
            bind.execute(update.values(admission_override_reason=code))


def _candidates():
    """Select the events that may hold text: overridden ones and any payload not a code."""
    payload = _events.c.payload
    units, medications = list(_LISTS["units"]), list(_LISTS["medications"])
    medication = payload["medication"].as_string()
    return (
        sa.select(
            _events.c.id,
            _events.c.episode_id,
            _events.c.type,
            _events.c.payload,
            _events.c.override_reason,
            _events.c.violations,
            _versions.c.protocol_id,
        )
        .join(_episodes, _episodes.c.id == _events.c.episode_id)
        .join(_versions, _versions.c.id == _episodes.c.protocol_version_id)
        .where(
            sa.or_(
                _events.c.override_reason.is_not(None),
                _events.c.type == "stage_change",
                sa.and_(
                    _events.c.type == "dose",
                    sa.or_(
                        payload["unit"].as_string().not_in(units),
                        medication.not_in(medications),
                    ),
                ),
                sa.and_(_events.c.type == "take_home", medication.not_in(medications)),
            )
        )
        .order_by(_events.c.id)
    )


def _stage_ids(bind) -> dict[int, set[str]]:
    """Return {protocol id: every stage id of any of its versions}."""
    stages: dict[int, set[str]] = {}
    for row in bind.execute(sa.select(_versions.c.protocol_id, _versions.c.document)):
        found = stages.setdefault(row.protocol_id, set())
        for stage in (row.document or {}).get("stages") or []:
            if isinstance(stage, dict) and isinstance(stage.get("id"), str):
                found.add(stage["id"])
    return stages


def _recode_events(bind) -> None:
    reason, unit, medication = (
        _coder("override_reasons"),
        _coder("units"),
        _coder("medications"),
    )
    stages = _stage_ids(bind)
    touched_episodes = set()
    for row in bind.execute(_candidates()).all():
        payload = dict(row.payload or {})
        replaced = {}
        coders = {"unit": unit, "medication": medication}
        for key, code_of in coders.items():
            if key in payload and row.type in ("dose", "take_home"):
                replaced[key] = code_of(payload[key])
        if row.type == "stage_change" and "to" in payload:
            known = stages.get(row.protocol_id, set())
            replaced["to"] = payload["to"] if payload["to"] in known else UNSPECIFIED
        changes = {k: (payload[k], v) for k, v in replaced.items() if payload[k] != v}
        code = reason(row.override_reason)
        if not changes and code == row.override_reason:
            continue
        payload.update({k: new for k, (_, new) in changes.items()})
        values = {"override_reason": code, "payload": payload}
        if changes:
            values["violations"] = _scrubbed(row.violations or [], changes)
            touched_episodes.add(row.episode_id)
        bind.execute(_events.update().where(_events.c.id == row.id).values(**values))
    for episode_id in touched_episodes:
        # Its snapshot keys dose totals by medication: let the service fold the events again.
        update = _episodes.update().where(_episodes.c.id == episode_id)
        bind.execute(update.values(engine_state=None, engine_state_event_id=None))


def _scrubbed(violations: list, changes: dict) -> list:
    """Return stored violations with every replaced payload value replaced in them too."""
    olds = {old: new for old, new in changes.values() if isinstance(old, str)}
    wordy = [
        (re.compile(rf"(?<!\w){re.escape(old)}(?!\w)"), new)
        for old, new in olds.items()
        if new == UNSPECIFIED and len(old) >= SHORTEST_SCRUBBED
    ]

    def text(value: str) -> str:
        if value in olds:
            return olds[value]
        for pattern, new in wordy:
            value = pattern.sub(new, value)
        return value

    def walk(node):
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return text(node) if isinstance(node, str) else node

    return walk(violations)
