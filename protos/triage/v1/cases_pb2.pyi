import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from protos.triage.v1 import escalation_pb2 as _escalation_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CaseState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CASE_STATE_UNSPECIFIED: _ClassVar[CaseState]
    CASE_STATE_FLAGGED: _ClassVar[CaseState]
    CASE_STATE_PERSON: _ClassVar[CaseState]
    CASE_STATE_PROPOSED: _ClassVar[CaseState]
    CASE_STATE_ANSWERED: _ClassVar[CaseState]
    CASE_STATE_CLOSED: _ClassVar[CaseState]
CASE_STATE_UNSPECIFIED: CaseState
CASE_STATE_FLAGGED: CaseState
CASE_STATE_PERSON: CaseState
CASE_STATE_PROPOSED: CaseState
CASE_STATE_ANSWERED: CaseState
CASE_STATE_CLOSED: CaseState

class WhoAmIRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Agent(_message.Message):
    __slots__ = ("tenant", "agent_id", "display_name")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    agent_id: str
    display_name: str
    def __init__(self, tenant: _Optional[str] = ..., agent_id: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class CaseMessage(_message.Message):
    __slots__ = ("role", "text", "author", "at")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    role: _escalation_pb2.Role
    text: str
    author: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, role: _Optional[_Union[_escalation_pb2.Role, str]] = ..., text: _Optional[str] = ..., author: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CaseView(_message.Message):
    __slots__ = ("case_id", "state", "lang", "customer_id", "order_id", "intent", "summary", "conversation", "suggested_reply", "proposed", "decision", "followed_up", "deliverable", "escalation_id", "created_at", "updated_at")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LANG_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    SUGGESTED_REPLY_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    FOLLOWED_UP_FIELD_NUMBER: _ClassVar[int]
    DELIVERABLE_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    state: CaseState
    lang: str
    customer_id: str
    order_id: str
    intent: str
    summary: _escalation_pb2.CaseSummary
    conversation: _containers.RepeatedCompositeFieldContainer[CaseMessage]
    suggested_reply: str
    proposed: _escalation_pb2.Money
    decision: str
    followed_up: bool
    deliverable: bool
    escalation_id: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, case_id: _Optional[str] = ..., state: _Optional[_Union[CaseState, str]] = ..., lang: _Optional[str] = ..., customer_id: _Optional[str] = ..., order_id: _Optional[str] = ..., intent: _Optional[str] = ..., summary: _Optional[_Union[_escalation_pb2.CaseSummary, _Mapping]] = ..., conversation: _Optional[_Iterable[_Union[CaseMessage, _Mapping]]] = ..., suggested_reply: _Optional[str] = ..., proposed: _Optional[_Union[_escalation_pb2.Money, _Mapping]] = ..., decision: _Optional[str] = ..., followed_up: _Optional[bool] = ..., deliverable: _Optional[bool] = ..., escalation_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchCasesRequest(_message.Message):
    __slots__ = ("cursor",)
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    cursor: int
    def __init__(self, cursor: _Optional[int] = ...) -> None: ...

class CaseEvent(_message.Message):
    __slots__ = ("cursor", "kind", "case")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CASE_FIELD_NUMBER: _ClassVar[int]
    cursor: int
    kind: str
    case: CaseView
    def __init__(self, cursor: _Optional[int] = ..., kind: _Optional[str] = ..., case: _Optional[_Union[CaseView, _Mapping]] = ...) -> None: ...

class ReplyToCaseRequest(_message.Message):
    __slots__ = ("case_id", "text", "quick_replies", "request_id")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    QUICK_REPLIES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    text: str
    quick_replies: _containers.RepeatedScalarFieldContainer[str]
    request_id: str
    def __init__(self, case_id: _Optional[str] = ..., text: _Optional[str] = ..., quick_replies: _Optional[_Iterable[str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class DecideProposalRequest(_message.Message):
    __slots__ = ("case_id", "approve", "note")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    approve: bool
    note: str
    def __init__(self, case_id: _Optional[str] = ..., approve: _Optional[bool] = ..., note: _Optional[str] = ...) -> None: ...

class CloseCaseRequest(_message.Message):
    __slots__ = ("case_id", "intent", "answers", "edge_could_answer", "flagged")
    class AnswersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    EDGE_COULD_ANSWER_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    intent: str
    answers: _containers.ScalarMap[str, str]
    edge_could_answer: bool
    flagged: bool
    def __init__(self, case_id: _Optional[str] = ..., intent: _Optional[str] = ..., answers: _Optional[_Mapping[str, str]] = ..., edge_could_answer: _Optional[bool] = ..., flagged: _Optional[bool] = ...) -> None: ...
