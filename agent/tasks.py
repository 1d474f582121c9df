"""Thin Celery tasks of the agent."""

from celery import shared_task

from agent import actions


@shared_task(name="agent.expire_actions", ignore_result=True)
def expire_actions():
    return actions.pending_actions_expire()
