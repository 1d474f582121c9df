"""Conversations, their history (messages, timeline), schedule-plan drafts, the writes waiting
for the user's confirmation (pending actions) and memory."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Conversation(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(max_length=200, blank=True, default="")
    # Next free seq of each history stream; allocated under a row lock on this conversation.
    next_message_seq = models.PositiveIntegerField(default=1)
    next_timeline_seq = models.PositiveIntegerField(default=1)
    last_message_at = models.DateTimeField(null=True, blank=True)
    # Out of the default list (docs/DOMAIN.md §8); still readable and usable by its id.
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-updated_at", "-id")
        # Every list filters on `archived` (false unless asked), so it leads after the user.
        indexes = [models.Index(fields=("user", "archived", "-updated_at"), name="agent_conv_user_arch_updated")]

    def __str__(self):
        return f"{self.pk}: {self.title or '(untitled)'}"


class Role(models.TextChoices):
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    role = models.CharField(max_length=9, choices=Role.choices)
    content = models.TextField()
    request_id = models.CharField(max_length=64, blank=True, default="")
    tokens = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("conversation", "seq")
        constraints = [models.UniqueConstraint(fields=("conversation", "seq"), name="agent_message_conv_seq_uniq")]

    def __str__(self):
        return f"{self.conversation_id}#{self.seq} {self.role}"


class TimelineKind(models.TextChoices):
    MESSAGE = "message"
    TOOL_CALL = "tool_call"
    TASK_CREATED = "task_created"
    PREVIEW_CREATED = "preview_created"
    ERROR = "error"


class TimelineEntry(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="timeline")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=TimelineKind.choices)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "timeline entries"
        ordering = ("conversation", "seq")
        constraints = [models.UniqueConstraint(fields=("conversation", "seq"), name="agent_timeline_conv_seq_uniq")]

    def __str__(self):
        return f"{self.conversation_id}#{self.seq} {self.kind}"


class PlanStatus(models.TextChoices):
    DRAFT = "draft"
    APPLIED = "applied"
    STALE = "stale"


class PlanDraft(models.Model):
    """The conversation's schedule-plan preview (one candidate), cached under sm:agent:plan:{conversation}."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="plans")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    candidate = models.JSONField(default=dict)
    base_version = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=8, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    applied_event_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self):
        return f"plan {self.pk} of conversation {self.conversation_id} ({self.status})"


class ActionKind(models.TextChoices):
    CREATE_TASK = "create_task"
    APPLY_PLAN = "apply_plan"
    MOVE_EVENT = "move_event"


class ActionStatus(models.TextChoices):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    EXPIRED = "expired"


class ActionReason(models.TextChoices):
    """Why the agent asked instead of writing."""

    CONFIRM_WRITES = "confirm_writes"  # the user's setting
    MODEL_TOOL_CALL = "model_tool_call"  # a language model chose the write, not the rules
    UNRESOLVED_TIME = "unresolved_time"  # the sentence's time could not be read


class PendingAction(models.Model):
    """A write the agent proposed in a turn and holds until the user confirms or rejects it
    (docs/DOMAIN.md §8, "Confirm before write"). `payload` is everything the write needs, so
    confirming runs no model and reads nothing from the turn; `result` is what the write gave,
    answered again to a repeated confirm."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_actions")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="pending_actions")
    request_id = models.CharField(max_length=64, blank=True, default="")  # the turn that proposed it
    kind = models.CharField(max_length=12, choices=ActionKind.choices)
    reason = models.CharField(max_length=16, choices=ActionReason.choices)
    summary = models.CharField(max_length=300)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=9, choices=ActionStatus.choices, default=ActionStatus.PENDING)
    result = models.JSONField(null=True, blank=True)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=("user", "-created_at"), name="agent_action_user_created"),
            # The expiry sweep reads only open actions: O(pending), not O(table).
            models.Index(
                fields=("expires_at",),
                name="agent_action_pending_expiry",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self):
        return f"action {self.pk} {self.kind} ({self.status})"

    def effective_status(self, now=None) -> str:
        """The one answer to "is it still open?": a pending action past expires_at reads as
        expired at once, before the sweep persists it."""
        if self.status == ActionStatus.PENDING and self.expires_at <= (now or timezone.now()):
            return ActionStatus.EXPIRED
        return self.status


class MemoryKind(models.TextChoices):
    PREFERENCE = "preference"
    CONSTRAINT = "constraint"
    FACT = "fact"


class MemorySource(models.TextChoices):
    USER = "user"
    EXTRACTED = "extracted"


class MemoryItem(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memory_items")
    kind = models.CharField(max_length=10, choices=MemoryKind.choices)
    content = models.CharField(max_length=500)
    content_hash = models.CharField(max_length=64)
    source = models.CharField(max_length=9, choices=MemorySource.choices, default=MemorySource.USER)
    conversation = models.ForeignKey(Conversation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    importance = models.PositiveSmallIntegerField(default=3)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-importance", "-updated_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=("user", "content_hash"), name="agent_memory_user_hash_uniq"),
            models.CheckConstraint(
                condition=models.Q(importance__gte=1, importance__lte=5), name="agent_memory_importance_1_5"
            ),
        ]

    def __str__(self):
        return f"{self.kind}: {self.content[:40]}"


class MemorySettings(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="memory_settings"
    )
    enabled = models.BooleanField(default=True)
    auto_extract = models.BooleanField(default=True)
    # Every write the agent would make waits for the user's confirm (docs/DOMAIN.md §8).
    confirm_writes = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "memory settings"
        verbose_name_plural = "memory settings"

    def __str__(self):
        return f"memory settings of {self.user_id}"
