"""Intents the agent handles: quick_note, task_query, schedule_plan, schedule_refine, chat."""
