import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_SHOPPER: _ClassVar[Role]
    ROLE_ASSISTANT: _ClassVar[Role]
    ROLE_AGENT: _ClassVar[Role]

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CHANNEL_CHAT: _ClassVar[Channel]
    CHANNEL_EMAIL: _ClassVar[Channel]
    CHANNEL_PHONE: _ClassVar[Channel]
    CHANNEL_INTERNAL: _ClassVar[Channel]

class Identity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IDENTITY_UNSPECIFIED: _ClassVar[Identity]
    IDENTITY_SIGNED_IN: _ClassVar[Identity]
    IDENTITY_ORDER_EMAIL: _ClassVar[Identity]

class Speculation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPECULATION_AUTO: _ClassVar[Speculation]
    SPECULATION_OFF: _ClassVar[Speculation]
    SPECULATION_PROMPT_LOOKUP: _ClassVar[Speculation]
    SPECULATION_DRAFT_MODEL: _ClassVar[Speculation]

class FinishReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINISH_REASON_UNSPECIFIED: _ClassVar[FinishReason]
    FINISH_REASON_STOP: _ClassVar[FinishReason]
    FINISH_REASON_LENGTH: _ClassVar[FinishReason]
    FINISH_REASON_GUARDED: _ClassVar[FinishReason]
ROLE_UNSPECIFIED: Role
ROLE_SHOPPER: Role
ROLE_ASSISTANT: Role
ROLE_AGENT: Role
CHANNEL_UNSPECIFIED: Channel
CHANNEL_CHAT: Channel
CHANNEL_EMAIL: Channel
CHANNEL_PHONE: Channel
CHANNEL_INTERNAL: Channel
IDENTITY_UNSPECIFIED: Identity
IDENTITY_SIGNED_IN: Identity
IDENTITY_ORDER_EMAIL: Identity
SPECULATION_AUTO: Speculation
SPECULATION_OFF: Speculation
SPECULATION_PROMPT_LOOKUP: Speculation
SPECULATION_DRAFT_MODEL: Speculation
FINISH_REASON_UNSPECIFIED: FinishReason
FINISH_REASON_STOP: FinishReason
FINISH_REASON_LENGTH: FinishReason
FINISH_REASON_GUARDED: FinishReason

class CustomerRef(_message.Message):
    __slots__ = ("tenant", "customer_id")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    customer_id: str
    def __init__(self, tenant: _Optional[str] = ..., customer_id: _Optional[str] = ...) -> None: ...

class Turn(_message.Message):
    __slots__ = ("role", "text")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    role: Role
    text: str
    def __init__(self, role: _Optional[_Union[Role, str]] = ..., text: _Optional[str] = ...) -> None: ...

class Passage(_message.Message):
    __slots__ = ("id", "text")
    ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    id: str
    text: str
    def __init__(self, id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class Money(_message.Message):
    __slots__ = ("currency", "amount_minor")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    currency: str
    amount_minor: int
    def __init__(self, currency: _Optional[str] = ..., amount_minor: _Optional[int] = ...) -> None: ...

class CaseContext(_message.Message):
    __slots__ = ("order_id", "amount", "channel", "opened_by", "facts", "identity")
    class FactsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    OPENED_BY_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    amount: Money
    channel: Channel
    opened_by: str
    facts: _containers.ScalarMap[str, str]
    identity: Identity
    def __init__(self, order_id: _Optional[str] = ..., amount: _Optional[_Union[Money, _Mapping]] = ..., channel: _Optional[_Union[Channel, str]] = ..., opened_by: _Optional[str] = ..., facts: _Optional[_Mapping[str, str]] = ..., identity: _Optional[_Union[Identity, str]] = ...) -> None: ...

class GenerationOptions(_message.Message):
    __slots__ = ("max_tokens", "temperature", "top_p", "seed", "stop", "speculation")
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    SPECULATION_FIELD_NUMBER: _ClassVar[int]
    max_tokens: int
    temperature: float
    top_p: float
    seed: int
    stop: _containers.RepeatedScalarFieldContainer[str]
    speculation: Speculation
    def __init__(self, max_tokens: _Optional[int] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., seed: _Optional[int] = ..., stop: _Optional[_Iterable[str]] = ..., speculation: _Optional[_Union[Speculation, str]] = ...) -> None: ...

class EscalateRequest(_message.Message):
    __slots__ = ("idempotency_key", "customer", "lang", "message", "conversation", "intent", "passages", "context", "options", "use_memory", "route")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    LANG_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    PASSAGES_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    USE_MEMORY_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    customer: CustomerRef
    lang: str
    message: str
    conversation: _containers.RepeatedCompositeFieldContainer[Turn]
    intent: str
    passages: _containers.RepeatedCompositeFieldContainer[Passage]
    context: CaseContext
    options: GenerationOptions
    use_memory: bool
    route: ReplyRoute
    def __init__(self, idempotency_key: _Optional[str] = ..., customer: _Optional[_Union[CustomerRef, _Mapping]] = ..., lang: _Optional[str] = ..., message: _Optional[str] = ..., conversation: _Optional[_Iterable[_Union[Turn, _Mapping]]] = ..., intent: _Optional[str] = ..., passages: _Optional[_Iterable[_Union[Passage, _Mapping]]] = ..., context: _Optional[_Union[CaseContext, _Mapping]] = ..., options: _Optional[_Union[GenerationOptions, _Mapping]] = ..., use_memory: _Optional[bool] = ..., route: _Optional[_Union[ReplyRoute, _Mapping]] = ...) -> None: ...

class ReplyRoute(_message.Message):
    __slots__ = ("edge", "session", "message_id")
    EDGE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    edge: str
    session: str
    message_id: str
    def __init__(self, edge: _Optional[str] = ..., session: _Optional[str] = ..., message_id: _Optional[str] = ...) -> None: ...

class SubscribeDeliveriesRequest(_message.Message):
    __slots__ = ("tenant", "edge")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    EDGE_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    edge: str
    def __init__(self, tenant: _Optional[str] = ..., edge: _Optional[str] = ...) -> None: ...

class Delivery(_message.Message):
    __slots__ = ("delivery_id", "tenant", "route", "case_id", "kind", "text", "lang", "author", "quick_replies", "created_at", "forget_customer")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANG_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    QUICK_REPLIES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FORGET_CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    tenant: str
    route: ReplyRoute
    case_id: str
    kind: str
    text: str
    lang: str
    author: str
    quick_replies: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    forget_customer: str
    def __init__(self, delivery_id: _Optional[str] = ..., tenant: _Optional[str] = ..., route: _Optional[_Union[ReplyRoute, _Mapping]] = ..., case_id: _Optional[str] = ..., kind: _Optional[str] = ..., text: _Optional[str] = ..., lang: _Optional[str] = ..., author: _Optional[str] = ..., quick_replies: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., forget_customer: _Optional[str] = ...) -> None: ...

class AckDeliveryRequest(_message.Message):
    __slots__ = ("tenant", "delivery_id")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    delivery_id: str
    def __init__(self, tenant: _Optional[str] = ..., delivery_id: _Optional[str] = ...) -> None: ...

class AckDeliveryResponse(_message.Message):
    __slots__ = ("acknowledged",)
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    acknowledged: bool
    def __init__(self, acknowledged: _Optional[bool] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("input_tokens", "cached_input_tokens", "output_tokens", "draft_tokens_proposed", "draft_tokens_accepted")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHED_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    DRAFT_TOKENS_PROPOSED_FIELD_NUMBER: _ClassVar[int]
    DRAFT_TOKENS_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    draft_tokens_proposed: int
    draft_tokens_accepted: int
    def __init__(self, input_tokens: _Optional[int] = ..., cached_input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., draft_tokens_proposed: _Optional[int] = ..., draft_tokens_accepted: _Optional[int] = ...) -> None: ...

class Delta(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class Final(_message.Message):
    __slots__ = ("text", "usage", "finish_reason", "model_id", "flagged_for_human", "ungrounded", "escalation_id", "replayed", "personal", "outcome", "summary")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_FOR_HUMAN_FIELD_NUMBER: _ClassVar[int]
    UNGROUNDED_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_ID_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    PERSONAL_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    text: str
    usage: Usage
    finish_reason: FinishReason
    model_id: str
    flagged_for_human: bool
    ungrounded: _containers.RepeatedScalarFieldContainer[str]
    escalation_id: str
    replayed: bool
    personal: bool
    outcome: Outcome
    summary: CaseSummary
    def __init__(self, text: _Optional[str] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., finish_reason: _Optional[_Union[FinishReason, str]] = ..., model_id: _Optional[str] = ..., flagged_for_human: _Optional[bool] = ..., ungrounded: _Optional[_Iterable[str]] = ..., escalation_id: _Optional[str] = ..., replayed: _Optional[bool] = ..., personal: _Optional[bool] = ..., outcome: _Optional[_Union[Outcome, _Mapping]] = ..., summary: _Optional[_Union[CaseSummary, _Mapping]] = ...) -> None: ...

class Outcome(_message.Message):
    __slots__ = ("kind", "order_id", "amount", "procedure", "rule", "case_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PROCEDURE_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    kind: str
    order_id: str
    amount: Money
    procedure: str
    rule: str
    case_id: str
    def __init__(self, kind: _Optional[str] = ..., order_id: _Optional[str] = ..., amount: _Optional[_Union[Money, _Mapping]] = ..., procedure: _Optional[str] = ..., rule: _Optional[str] = ..., case_id: _Optional[str] = ...) -> None: ...

class Check(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class CaseSummary(_message.Message):
    __slots__ = ("case_id", "customer_id", "order_id", "claim", "lang", "procedure", "rule", "checks", "outcome", "writes", "text")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    LANG_FIELD_NUMBER: _ClassVar[int]
    PROCEDURE_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    WRITES_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    customer_id: str
    order_id: str
    claim: str
    lang: str
    procedure: str
    rule: str
    checks: _containers.RepeatedCompositeFieldContainer[Check]
    outcome: str
    writes: _containers.RepeatedScalarFieldContainer[str]
    text: str
    def __init__(self, case_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., order_id: _Optional[str] = ..., claim: _Optional[str] = ..., lang: _Optional[str] = ..., procedure: _Optional[str] = ..., rule: _Optional[str] = ..., checks: _Optional[_Iterable[_Union[Check, _Mapping]]] = ..., outcome: _Optional[str] = ..., writes: _Optional[_Iterable[str]] = ..., text: _Optional[str] = ...) -> None: ...

class EscalateEvent(_message.Message):
    __slots__ = ("delta", "final")
    DELTA_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    delta: Delta
    final: Final
    def __init__(self, delta: _Optional[_Union[Delta, _Mapping]] = ..., final: _Optional[_Union[Final, _Mapping]] = ...) -> None: ...

class GetMemoryRequest(_message.Message):
    __slots__ = ("customer", "max_turns")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    MAX_TURNS_FIELD_NUMBER: _ClassVar[int]
    customer: CustomerRef
    max_turns: int
    def __init__(self, customer: _Optional[_Union[CustomerRef, _Mapping]] = ..., max_turns: _Optional[int] = ...) -> None: ...

class MemoryFact(_message.Message):
    __slots__ = ("key", "value", "source", "recorded_at")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    source: str
    recorded_at: _timestamp_pb2.Timestamp
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ..., source: _Optional[str] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CustomerMemory(_message.Message):
    __slots__ = ("customer", "turns", "facts", "summary")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    customer: CustomerRef
    turns: _containers.RepeatedCompositeFieldContainer[Turn]
    facts: _containers.RepeatedCompositeFieldContainer[MemoryFact]
    summary: str
    def __init__(self, customer: _Optional[_Union[CustomerRef, _Mapping]] = ..., turns: _Optional[_Iterable[_Union[Turn, _Mapping]]] = ..., facts: _Optional[_Iterable[_Union[MemoryFact, _Mapping]]] = ..., summary: _Optional[str] = ...) -> None: ...

class MemoryExport(_message.Message):
    __slots__ = ("customer", "json")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    customer: CustomerRef
    json: bytes
    def __init__(self, customer: _Optional[_Union[CustomerRef, _Mapping]] = ..., json: _Optional[bytes] = ...) -> None: ...

class ForgetCustomerRequest(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: CustomerRef
    def __init__(self, customer: _Optional[_Union[CustomerRef, _Mapping]] = ...) -> None: ...

class ForgetCustomerResponse(_message.Message):
    __slots__ = ("turns_deleted", "facts_deleted", "summaries_deleted", "edges_notified", "cases_deleted")
    TURNS_DELETED_FIELD_NUMBER: _ClassVar[int]
    FACTS_DELETED_FIELD_NUMBER: _ClassVar[int]
    SUMMARIES_DELETED_FIELD_NUMBER: _ClassVar[int]
    EDGES_NOTIFIED_FIELD_NUMBER: _ClassVar[int]
    CASES_DELETED_FIELD_NUMBER: _ClassVar[int]
    turns_deleted: int
    facts_deleted: int
    summaries_deleted: int
    edges_notified: int
    cases_deleted: int
    def __init__(self, turns_deleted: _Optional[int] = ..., facts_deleted: _Optional[int] = ..., summaries_deleted: _Optional[int] = ..., edges_notified: _Optional[int] = ..., cases_deleted: _Optional[int] = ...) -> None: ...

class ResolveRequest(_message.Message):
    __slots__ = ("tenant", "escalation_id", "intent", "answers", "edge_could_answer", "resolved_by", "flagged")
    class AnswersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TENANT_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_ID_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    EDGE_COULD_ANSWER_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BY_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    escalation_id: str
    intent: str
    answers: _containers.ScalarMap[str, str]
    edge_could_answer: bool
    resolved_by: str
    flagged: bool
    def __init__(self, tenant: _Optional[str] = ..., escalation_id: _Optional[str] = ..., intent: _Optional[str] = ..., answers: _Optional[_Mapping[str, str]] = ..., edge_could_answer: _Optional[bool] = ..., resolved_by: _Optional[str] = ..., flagged: _Optional[bool] = ...) -> None: ...

class Resolution(_message.Message):
    __slots__ = ("tenant", "escalation_id", "message", "lang", "intent", "answers", "edge_could_answer", "resolved_by", "flagged", "guarded", "resolved_at")
    class AnswersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TENANT_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LANG_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    EDGE_COULD_ANSWER_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BY_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_FIELD_NUMBER: _ClassVar[int]
    GUARDED_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    escalation_id: str
    message: str
    lang: str
    intent: str
    answers: _containers.ScalarMap[str, str]
    edge_could_answer: bool
    resolved_by: str
    flagged: bool
    guarded: bool
    resolved_at: _timestamp_pb2.Timestamp
    def __init__(self, tenant: _Optional[str] = ..., escalation_id: _Optional[str] = ..., message: _Optional[str] = ..., lang: _Optional[str] = ..., intent: _Optional[str] = ..., answers: _Optional[_Mapping[str, str]] = ..., edge_could_answer: _Optional[bool] = ..., resolved_by: _Optional[str] = ..., flagged: _Optional[bool] = ..., guarded: _Optional[bool] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListResolutionsRequest(_message.Message):
    __slots__ = ("tenant", "since")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    since: _timestamp_pb2.Timestamp
    def __init__(self, tenant: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListEscalationsRequest(_message.Message):
    __slots__ = ("tenant", "unresolved_only")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    UNRESOLVED_ONLY_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    unresolved_only: bool
    def __init__(self, tenant: _Optional[str] = ..., unresolved_only: _Optional[bool] = ...) -> None: ...

class EscalationRecord(_message.Message):
    __slots__ = ("escalation_id", "message", "lang", "intent", "answer", "guarded", "personal", "created_at")
    ESCALATION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LANG_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    GUARDED_FIELD_NUMBER: _ClassVar[int]
    PERSONAL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    escalation_id: str
    message: str
    lang: str
    intent: str
    answer: str
    guarded: bool
    personal: bool
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, escalation_id: _Optional[str] = ..., message: _Optional[str] = ..., lang: _Optional[str] = ..., intent: _Optional[str] = ..., answer: _Optional[str] = ..., guarded: _Optional[bool] = ..., personal: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
