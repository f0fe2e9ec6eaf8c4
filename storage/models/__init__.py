"""Typed SQLAlchemy 2 models for the whole domain, importable from here.

``base`` holds the declarative base, the vocabularies and the UTC timestamp type; ``calls`` the
sources, crawls and calls; ``desk`` profiles, matches, reviews and the work queue; ``people``
users, API tokens, subscriptions and the outbox; ``scheduling`` the scheduler's job runs,
lease and job store.
"""

from storage.models.base import (
    APPLICANT_TYPES,
    CALL_STATUSES,
    CRAWL_OUTCOMES,
    DEADLINE_MODELS,
    FREQUENCIES,
    FUNDER_TYPES,
    JOB_RUN_OUTCOMES,
    LANGUAGES,
    MATCH_RUN_OUTCOMES,
    NAMING_CONVENTION,
    NOTIFICATION_KINDS,
    NOTIFICATION_STATES,
    PROFILE_KINDS,
    REVIEW_STATUSES,
    SUBSCRIPTION_KINDS,
    USER_ROLES,
    WORK_KINDS,
    WORK_STATES,
    Base,
    UTCDateTime,
    utcnow,
)
from storage.models.calls import CallChange, CallDeadline, CrawlRun, FundingCall, Source
from storage.models.desk import Match, MatchRun, Profile, Review, ReviewNote, WorkItem
from storage.models.people import (
    ApiToken,
    Notification,
    Subscription,
    SubscriptionCall,
    SuppressedAddress,
    User,
)
from storage.models.scheduling import JOB_STORE_TABLE, JobRun, SchedulerLease, apscheduler_jobs

__all__ = [
    "APPLICANT_TYPES",
    "CALL_STATUSES",
    "CRAWL_OUTCOMES",
    "DEADLINE_MODELS",
    "FREQUENCIES",
    "FUNDER_TYPES",
    "JOB_RUN_OUTCOMES",
    "JOB_STORE_TABLE",
    "LANGUAGES",
    "MATCH_RUN_OUTCOMES",
    "NAMING_CONVENTION",
    "NOTIFICATION_KINDS",
    "NOTIFICATION_STATES",
    "PROFILE_KINDS",
    "REVIEW_STATUSES",
    "SUBSCRIPTION_KINDS",
    "USER_ROLES",
    "WORK_KINDS",
    "WORK_STATES",
    "ApiToken",
    "Base",
    "CallChange",
    "CallDeadline",
    "CrawlRun",
    "FundingCall",
    "JobRun",
    "Match",
    "MatchRun",
    "Notification",
    "Profile",
    "Review",
    "ReviewNote",
    "SchedulerLease",
    "Source",
    "Subscription",
    "SubscriptionCall",
    "SuppressedAddress",
    "UTCDateTime",
    "User",
    "WorkItem",
    "apscheduler_jobs",
    "utcnow",
]
