// A small client of the served schema, type-checked under `tsc --strict` against the types
// openapi-typescript generates (tests/test_schema_tools.py). It compiles only if the schema
// says what the API does: public operations, required headers, typed outputs and errors.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type Schemas = components["schemas"];

const api = createClient<paths>({ baseUrl: "http://127.0.0.1:8000" });

export async function logIn(username: string, password: string): Promise<string> {
  const { data, error } = await api.POST("/api/v1/auth/login/", { body: { username, password } });
  if (error) throw new Error(error.error.message);
  return data.access;
}

export async function dueTasks(token: string): Promise<Schemas["PriorityEnum"][]> {
  const { data } = await api.GET("/api/v1/tasks/", {
    params: { query: { status: "todo", ordering: "deadline_at", page_size: 50 } },
    headers: { Authorization: `Bearer ${token}` },
  });
  // The output's priority is the same enum the input takes.
  return (data?.results ?? []).map((task) => task.priority);
}

export async function makeTask(token: string): Promise<number> {
  const priority: Schemas["PriorityEnum"] = 1;
  const { data, error } = await api.POST("/api/v1/tasks/", {
    body: { title: "Problem set", priority },
    params: { header: { "Idempotency-Key": "task-1" } },
    headers: { Authorization: `Bearer ${token}` },
  });
  if (error) {
    if (error.error.code === "validation_error") return -Object.keys(error.error.fields ?? {}).length;
    throw new Error(error.error.code);
  }
  return data.id;
}

export async function applyPreview(token: string, id: string, candidate: string): Promise<number[]> {
  const { data, error } = await api.POST("/api/v1/active-schedule/previews/{id}/apply/", {
    // Required by the schema, as by the server: leaving it out does not compile.
    params: { path: { id }, header: { "Idempotency-Key": `apply-${id}` } },
    body: { candidate_id: candidate },
    headers: { Authorization: `Bearer ${token}` },
  });
  if (error) {
    const body = error.error;
    if (body.code === "slot_conflict") {
      return (body.details?.conflicts ?? []).map((c) => c.week * 100 + c.day);
    }
    return [];
  }
  return data.applied_event_ids;
}

export async function applyAgentPlan(token: string, conversation: number): Promise<string> {
  const { data } = await api.POST("/api/v1/agent/conversations/{id}/schedule-preview/apply/", {
    params: { path: { id: conversation }, header: { "Idempotency-Key": `plan-${conversation}` } },
    headers: { Authorization: `Bearer ${token}` },
  });
  // A typed body, not a free-form dict: its status, its changes.
  return `${data?.status}: ${data?.changes.map((change) => change.to.week).join(",")}`;
}

export function studyWindow(taskClass: Schemas["TaskClass"]): number[] {
  return [...taskClass.excluded_days, ...taskClass.excluded_sections.map((s) => s * 10)];
}

export function weeksOf(course: Schemas["Course"]): number {
  return course.weeks.reduce((sum, week) => sum + week, 0);
}

// A slot_conflict answer as the server sends it is a valid Error value.
export const conflict: Schemas["Error"] = {
  error: {
    code: "slot_conflict",
    message: "The schedule already has 1 event in the requested sections.",
    details: { conflicts: [{ event_id: 7, week: 1, day: 1, start_section: 1, end_section: 2, title: "Calculus" }] },
  },
};

export const overQuota: Schemas["Error"] = {
  error: { code: "quota_exceeded", message: "Quota used up.", details: { resets_at: "2026-12-08T00:00:00+08:00" } },
};

export function nextEvent(ongoing: Schemas["Ongoing"]): string {
  return ongoing.next === null ? "nothing next" : ongoing.next.title;
}

export function chunkText(chunk: Schemas["ChatChunk"]): string {
  const extra = chunk.extra;
  if (extra.kind === "error") return `error ${extra.code}`;
  return chunk.choices.map((choice) => choice.delta.content ?? "").join("");
}

export async function feed(secret: string): Promise<string | undefined> {
  // Public: no Authorization header needed.
  const { data } = await api.GET("/api/v1/calendar/{secret}.ics", {
    params: { path: { secret } },
    parseAs: "text",
  });
  return data;
}
