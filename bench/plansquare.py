#!/usr/bin/env python
"""Plan square at scale: `.venv/bin/python bench/plansquare.py [--posts 100000] [--likes 1000000]`.

On a private PostgreSQL cluster (initdb C.UTF-8, fsync off: nothing here measures writes) it
loads --posts posts of --users authors with realistic Chinese/English titles, summaries and
tags, --likes likes (generate_series, a heavy-tailed count per post) and a tenth as many imports,
then VACUUM ANALYZE, and measures:

1. At the database (Django ORM, no cache, no HTTP): the listing's two statements (COUNT and the
   page) for the default order, by likes, by imports, a deep page, tag filters, `q` searches (a
   mix of Chinese and English queries) and the tag counts — p50/p99 over --repeat rounds in a
   shuffled order, with EXPLAIN (ANALYZE, BUFFERS) of each case written to --explain.
2. The search index choice: the same queries on the same rows through a pg_trgm GIN index of the
   normalised text (`LIKE '%term%'` per term) against the shipped full-text lexemes.
3. `plansquare_check` over the whole data set.
4. Through HTTP with wrk, in one run on one gunicorn (the Procfile's settings) with a private
   Redis: the cached listing (anonymous and signed in), the cached week view of a demo user, and
   `bench/bare/` — a plain Django view returning the listing's bytes, the floor every figure is
   stated against.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

from bench._stack import (  # noqa: E402
    PrivatePostgres,
    PrivateRedis,
    Workdir,
    app_env,
    free_port,
    loadavg,
    migrate,
    start_apps,
)

SUBJECTS = [
    "高等数学",
    "线性代数",
    "概率论与数理统计",
    "离散数学",
    "微积分",
    "复变函数",
    "大学物理",
    "电路原理",
    "模拟电子技术",
    "数字电路",
    "信号与系统",
    "自动控制原理",
    "有机化学",
    "无机化学",
    "分析化学",
    "生物化学",
    "细胞生物学",
    "遗传学",
    "生理学",
    "病理学",
    "药理学",
    "内科护理",
    "解剖学",
    "数据结构",
    "算法设计",
    "操作系统",
    "计算机网络",
    "数据库原理",
    "编译原理",
    "计算机组成原理",
    "软件工程",
    "机器学习",
    "深度学习",
    "人工智能导论",
    "C语言",
    "Python编程",
    "Java程序设计",
    "前端开发",
    "微观经济学",
    "宏观经济学",
    "计量经济学",
    "会计学原理",
    "财务管理",
    "管理学",
    "市场营销",
    "民法",
    "刑法",
    "宪法学",
    "法理学",
    "马克思主义原理",
    "毛概",
    "近代史纲要",
    "思修",
    "考研数学",
    "考研英语",
    "考研政治",
    "专业课",
    "英语四级",
    "英语六级",
    "雅思",
    "托福",
    "GRE",
    "日语N2",
    "日语N1",
    "口语",
    "听力",
    "写作",
    "阅读",
    "教师资格证",
    "公务员考试",
    "行测",
    "申论",
    "计算机二级",
    "注册会计师",
    "法考",
    "中国古代文学",
    "现代汉语",
    "西方哲学",
    "心理学",
]
PLANS = [
    "复习",
    "计划",
    "冲刺",
    "刷题",
    "真题",
    "背单词",
    "每日打卡",
    "笔记",
    "错题本",
    "期末",
    "备考",
    "入门",
    "进阶",
    "基础",
    "强化",
    "精讲",
    "串讲",
    "四周",
    "三十天",
    "两个月",
    "寒假",
    "暑假",
    "周末",
    "早起",
    "番茄钟",
    "速成",
    "系统",
    "全程",
    "一轮",
    "二轮",
    "三轮",
    "查漏补缺",
    "模拟考",
]
ENGLISH = [
    "review",
    "plan",
    "daily",
    "sprint",
    "final",
    "exam",
    "notes",
    "practice",
    "vocabulary",
    "reading",
    "writing",
    "listening",
    "speaking",
    "calculus",
    "algebra",
    "statistics",
    "physics",
    "chemistry",
    "biology",
    "python",
    "java",
    "algorithms",
    "networks",
    "systems",
    "database",
    "compiler",
    "economics",
    "accounting",
    "law",
    "history",
    "psychology",
    "grammar",
    "essay",
    "mock",
    "weekly",
    "crash",
    "course",
    "roadmap",
    "beginner",
    "advanced",
    "intensive",
    "revision",
    "flashcards",
    "leetcode",
    "ielts",
    "toefl",
    "gre",
]
TAGS = [
    "考研",
    "数学",
    "英语",
    "四级",
    "六级",
    "雅思",
    "托福",
    "期末",
    "编程",
    "python",
    "java",
    "算法",
    "物理",
    "化学",
    "生物",
    "医学",
    "护理",
    "法学",
    "经济",
    "会计",
    "政治",
    "专业课",
    "公考",
    "教资",
    "日语",
    "口语",
    "写作",
    "阅读",
    "听力",
    "背单词",
    "刷题",
    "打卡",
    "笔记",
    "寒假",
    "暑假",
    "大一",
    "大二",
    "大三",
    "大四",
    "研一",
    "cet",
    "ielts",
    "toefl",
    "gre",
    "leetcode",
    "ml",
    "ai",
    "cs",
    "自律",
    "早起",
    "效率",
    "番茄钟",
    "计划",
    "复习",
    "冲刺",
    "基础",
    "进阶",
]
# Search terms as users type them: common and rare Chinese of 1-6 characters, English words and
# prefixes, mixed queries, and two that match nothing.
QUERIES = (
    "复习",
    "考研",
    "数学",
    "物理",
    "学",
    "背单词",
    "线性代数",
    "考研数学冲刺",
    "概率论",
    "python",
    "calc",
    "vocab",
    "雅思 writing",
    "期末 复习 计划",
    "量子力学",
    "blockchain",
)


def heavy_tailed_counts(n: int, total: int, rng: random.Random, *, cap: int) -> list[int]:
    """n counts summing to `total`, Pareto-shaped (a few posts get most likes), each <= cap."""
    weights = [min(rng.paretovariate(1.1), 1e6) for _ in range(n)]
    scale = total / sum(weights)
    counts = [min(cap, int(w * scale)) for w in weights]
    short = total - sum(counts)
    i = 0
    while short > 0:  # hand out the remainder where there is room
        if counts[i % n] < cap:
            counts[i % n] += 1
            short -= 1
        i += 7919
    return counts


def make_post(rng: random.Random):
    subject = rng.choice(SUBJECTS)
    title = subject + rng.choice(PLANS) + (rng.choice(PLANS) if rng.random() < 0.5 else "")
    if rng.random() < 0.3:
        title += " " + " ".join(rng.sample(ENGLISH, rng.randint(1, 2)))
    sentences = []
    for _ in range(rng.randint(0, 4)):
        words = rng.sample(SUBJECTS, 1) + rng.sample(PLANS, 2)
        if rng.random() < 0.4:
            words += rng.sample(ENGLISH, rng.randint(1, 3))
        sentences.append("".join(w if not w.isascii() else f" {w} " for w in words).strip())
    summary = "\uff0c".join(sentences)[:1000]  # a Chinese comma
    # Zipf-like: the first tags are far more common.
    tags = list(
        dict.fromkeys(TAGS[min(len(TAGS) - 1, int(rng.paretovariate(0.9)) - 1)] for _ in range(rng.randint(0, 4)))
    )
    items = [
        {"order": i, "title": f"{subject} 第{i}章", "estimated_sections": rng.randint(1, 4)}
        for i in range(1, rng.randint(3, 20))
    ]
    return title[:80], summary, tags, items


def load(conn, *, posts: int, users: int, likes: int, seed: int) -> dict:
    """Users, posts, tag rows, likes and imports through COPY and generate_series."""
    from scheduling.plansquare import text

    rng = random.Random(seed)
    started = time.perf_counter()
    now = datetime.now(UTC)
    with conn.cursor() as cur:
        with cur.copy(
            "COPY accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff,"
            " is_active, date_joined, timezone) FROM STDIN"
        ) as copy:
            for i in range(users):
                copy.write_row(("!", False, f"student{i}", "", "", "", False, True, now, "Asia/Shanghai"))
        cur.execute("SELECT min(id) FROM accounts_user WHERE username LIKE 'student%%'")
        first_user = cur.fetchone()[0]
        like_counts = heavy_tailed_counts(posts, likes, rng, cap=users - 1)
        import_counts = heavy_tailed_counts(posts, likes // 10, rng, cap=users - 1)
        rows, tag_rows, snapshots = [], [], []
        with cur.copy(
            "COPY plansquare_post (id, author_id, title, summary, tags, strategy, daily_max_sections, weeks,"
            " item_count, total_sections, likes, imports, comments, hidden, hidden_at, published_at, updated_at,"
            " search_vector) FROM STDIN"
        ) as copy:
            for pid in range(1, posts + 1):
                title, summary, tags, items = make_post(rng)
                published = now - timedelta(seconds=rng.randint(0, 365 * 86400))
                hidden = rng.random() < 0.01
                vector = text.tsvector_literal(text.index_lexemes(title, summary, *tags))
                copy.write_row(
                    (
                        pid, first_user + rng.randrange(users), title, summary, json.dumps(tags, ensure_ascii=False),
                        rng.choice(("steady", "rapid")), rng.randint(2, 6), rng.randint(1, 12), len(items),
                        sum(i["estimated_sections"] for i in items), like_counts[pid - 1], import_counts[pid - 1], 0,
                        hidden, published if hidden else None, published, published, vector,
                    )
                )  # fmt: skip
                tag_rows.extend((pid, tag) for tag in tags)
                snapshots.append((pid, json.dumps(items, ensure_ascii=False)))
                rows.append((pid, " ".join(text.search_terms(" ".join((title, summary, *tags))))))
        cur.execute("SELECT setval(pg_get_serial_sequence('plansquare_post', 'id'), %s)", [posts])
        for table, columns, values in (
            ("plansquare_posttag", "post_id, tag", tag_rows),
            ("plansquare_postsnapshot", "post_id, items", snapshots),
        ):
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        # Distinct users per post: first + (post·7919 + k·104729) mod users, k < count < users
        # (104729 is a prime that does not divide the user count).
        for table, column in (("plansquare_postlike", "likes"), ("plansquare_postimport", "imports")):
            cur.execute(
                f"INSERT INTO {table} (post_id, user_id, created_at)"
                f" SELECT p.id, %s + ((p.id * 7919 + k * 104729) %% %s), p.published_at"
                f" FROM plansquare_post p, generate_series(0, p.{column} - 1) k",
                [first_user, users],
            )
    conn.commit()
    return {"seconds": time.perf_counter() - started, "first_user": first_user, "search_text": rows}


# --- 1. at the database ---------------------------------------------------------------------------


def db_cases(author_id: int):
    from scheduling.plansquare.selectors import PostFilters

    popular = "考研"
    return {
        "list newest, page 1": (PostFilters(), 1),
        "list by likes, page 1": (PostFilters(ordering="-likes"), 1),
        "list by imports, page 1": (PostFilters(ordering="-imports"), 1),
        "list by likes, page 50": (PostFilters(ordering="-likes"), 50),
        "list by author": (PostFilters(author=author_id), 1),
        "tag 考研": (PostFilters(tags=(popular,)), 1),
        "tags 考研+数学 by likes": (PostFilters(tags=(popular, "数学"), ordering="-likes"), 1),
        **{f"q {q}": (PostFilters(q=q), 1) for q in QUERIES},
        "q 复习 by likes": (PostFilters(q="复习", ordering="-likes"), 1),
    }


def listing_statements(conn, filters, page, page_size=20):
    """The statements post_list_page runs: COUNT, the page, the page's authors ((sql, params) each)."""
    from django.contrib.auth import get_user_model

    from scheduling.plansquare.selectors import LIST_COLUMNS, listed_posts

    queryset = listed_posts(filters)
    counted = queryset.order_by().values("pk").query.sql_with_params()
    offset = (page - 1) * page_size
    paged = queryset.values(*LIST_COLUMNS, "author_id")[offset : offset + page_size]
    with conn.cursor() as cur:
        cur.execute(*paged.query.sql_with_params())
        authors = {row[-1] for row in cur.fetchall()}  # author_id is the last column
    names = get_user_model().objects.filter(pk__in=authors or {0}).values_list("pk", "username")
    return [
        (f"SELECT count(*) FROM ({counted[0]}) counted", counted[1]),
        paged.query.sql_with_params(),
        names.query.sql_with_params(),
    ]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def time_statements(conn, cases: dict, repeat: int, rng: random.Random) -> dict:
    """{case: [[ms of each statement] per round]}, the rounds of all cases shuffled together."""
    timings = {name: [] for name in cases}
    order = [name for name in cases for _ in range(repeat)]
    rng.shuffle(order)
    with conn.cursor() as cur:
        for name in cases:  # warm the caches once
            for sql, params in cases[name]:
                cur.execute(sql, params)
                cur.fetchall()
        for name in order:
            spent = []
            for sql, params in cases[name]:
                started = time.perf_counter()
                cur.execute(sql, params)
                cur.fetchall()
                spent.append((time.perf_counter() - started) * 1000)
            timings[name].append(spent)
    return timings


def part(rounds, which=None) -> list[float]:
    """The COUNT's times (0), the page's with its authors (1), or, with None, the rounds' totals."""
    if which is None:
        return [sum(r) for r in rounds]
    return [r[0] if which == 0 else sum(r[1:]) for r in rounds]


def explain(conn, statements) -> str:
    out = []
    with conn.cursor() as cur:
        for sql, params in statements:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            out.append("\n".join(row[0] for row in cur.fetchall()))
    return "\n\n".join(out)


def tag_count_statement():
    from django.db.models import Count

    from scheduling.plansquare.models import PostTag
    from scheduling.plansquare.selectors import TAGS_LIMIT

    counted = PostTag.objects.filter(post__hidden=False).values("tag").annotate(posts=Count("id"))
    return [counted.order_by("-posts", "tag")[:TAGS_LIMIT].query.sql_with_params()]


def _p(values) -> str:
    return f"{statistics.median(values):7.2f} {percentile(values, 0.99):7.2f}"


def report(title, timings):
    """COUNT, page and both, p50 and p99 of each case (one statement: its own column only)."""
    print(f"\n{title}")
    print(f"{'case':30s} {'COUNT p50':>9s} {'p99':>7s} {'page p50':>9s} {'p99':>7s} {'both p50':>9s} {'p99':>7s}")
    for name, rounds in timings.items():
        if len(rounds[0]) > 1:
            print(f"{name:30s}  {_p(part(rounds, 0))}  {_p(part(rounds, 1))}  {_p(part(rounds))}")
        else:
            print(f"{name:30s}  {_p(part(rounds))}")


def verdict(label, values, limits=(20, 100)) -> None:
    p50, p99 = statistics.median(values), percentile(values, 0.99)
    met = "met" if p50 < limits[0] and p99 < limits[1] else "MISSED"
    print(f"   {label:58s} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  (target {limits[0]} / {limits[1]}: {met})")


# --- 2. trigram against full text -------------------------------------------------------------------


def add_trigram_index(conn, rows) -> float:
    started = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cur.execute("ALTER TABLE plansquare_post ADD COLUMN IF NOT EXISTS search_text text")
        cur.execute("CREATE TEMP TABLE bench_text (id bigint PRIMARY KEY, search_text text)")
        with cur.copy("COPY bench_text (id, search_text) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute("UPDATE plansquare_post p SET search_text = t.search_text FROM bench_text t WHERE t.id = p.id")
        cur.execute(
            "CREATE INDEX bench_post_trgm ON plansquare_post USING gin (search_text gin_trgm_ops) WHERE NOT hidden"
        )
    conn.commit()
    with conn.cursor() as cur:
        conn.autocommit = True
        cur.execute("VACUUM FULL ANALYZE plansquare_post")  # no bloat from the UPDATE: both on one compact table
        conn.autocommit = False
    return time.perf_counter() - started


def trigram_statements(query: str):
    """COUNT and page as the listing would run them on a trigram index (the same columns)."""
    from scheduling.plansquare import text
    from scheduling.plansquare.selectors import LIST_COLUMNS

    terms = text.search_terms(query)
    where = " AND ".join(["search_text LIKE %s"] * len(terms))
    params = [f"%{term}%" for term in terms]
    base = f"FROM plansquare_post WHERE NOT hidden AND {where}"
    return [
        (f"SELECT count(*) {base}", params),
        (
            f"SELECT {', '.join(LIST_COLUMNS)}, author_id {base} ORDER BY published_at DESC, id DESC LIMIT 20",
            params,
        ),
    ]


def index_sizes(conn) -> dict:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT relname, pg_relation_size(oid) FROM pg_class WHERE relname IN"
            " ('plansquare_post_search', 'bench_post_trgm', 'plansquare_post')"
        )
        return {name: size for name, size in cur.fetchall()}


# --- 4. HTTP ------------------------------------------------------------------------------------------


def wrk(url: str, *, seconds: float, connections: int, token: str | None = None) -> dict:
    command = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for label in ("50%", "99%"):
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        figures[f"p{label[:-1]}_ms"] = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures["non_2xx"] = int(errors.group(1)) if errors else 0
    return figures


def http(workdir, database_url, args, payload_path, token) -> dict:
    redis = PrivateRedis(workdir).start()
    port = free_port()
    env = app_env(
        database_url=database_url,
        redis_url=redis.url,
        kafka="",
        workdir=workdir,
        DJANGO_SETTINGS_MODULE="week_view_settings",  # the project's settings + bench/bare/, no user bucket
        PYTHONPATH=os.pathsep.join([str(ROOT), str(BENCH)]),
        BENCH_PAYLOAD=str(payload_path),
        BENCH_CACHE="redis",  # this process's database figures ran with none
        ACCESS_TOKEN_SECONDS="7200",
    )
    apps = start_apps(workdir, env, port=port, web_workers=args.workers, with_background=False)
    base = f"http://127.0.0.1:{port}"
    try:
        urls = {
            "bare (floor)": (f"{base}/bench/bare/", None),
            "square listing, anonymous": (f"{base}/api/v1/plan-square/posts/", None),
            "square listing, signed in": (f"{base}/api/v1/plan-square/posts/", token),
            "square listing by likes, q=考研": (
                f"{base}/api/v1/plan-square/posts/?q=%E8%80%83%E7%A0%94&ordering=-likes",
                None,
            ),
            "week view, signed in": (f"{base}/api/v1/schedule/week/?week=1", token),
        }
        for url, auth in urls.values():  # fill the caches (and check the answers)
            wrk(url, seconds=1, connections=1, token=auth)
        return {
            name: wrk(url, seconds=args.seconds, connections=args.connections, token=auth)
            for name, (url, auth) in urls.items()
        }
    finally:
        apps["web"].stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--likes", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=40, help="rounds per database case")
    parser.add_argument("--seconds", type=float, default=10, help="wrk duration per URL")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--explain", type=Path, default=Path("var/bench_plansquare_explain.txt"))
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()

    workdir = Workdir("sm-plansquare-")
    pg = PrivatePostgres(workdir, fsync=False, locale="C.UTF-8").init()
    os.environ.update(
        DATABASE_URL=pg.url,
        DJANGO_SETTINGS_MODULE="week_view_settings",
        BENCH_CACHE="dummy",  # the database figures never touch a cache
        SECRET_KEY="bench-only-secret-key-not-for-production-0123456789abcdef",
        DB_POOL_MAX_SIZE="0",
        REDIS_URL="",
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH)])}
    migrate(env)
    import django

    django.setup()
    import psycopg
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts.services import session_start, user_register
    from scheduling.demo import DEMO_STEPS

    print(f"load average {loadavg()}; {args.posts} posts, {args.likes} likes, {args.users} users")
    conn = psycopg.connect(pg.url)
    loaded = load(conn, posts=args.posts, users=args.users, likes=args.likes, seed=args.seed)
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE")
    conn.autocommit = False
    with conn.cursor() as cur:
        tables = ("plansquare_post", "plansquare_postlike", "plansquare_postimport", "plansquare_posttag")
        cur.execute("SELECT " + ", ".join(f"(SELECT count(*) FROM {table})" for table in tables))
        counts = dict(zip(tables, cur.fetchone(), strict=True))
    print(f"loaded in {loaded['seconds']:.0f} s: " + ", ".join(f"{t} {n}" for t, n in counts.items()))

    rng = random.Random(args.seed)
    cases = {
        name: listing_statements(conn, filters, page)
        for name, (filters, page) in db_cases(loaded["first_user"]).items()
    }
    cases["tag counts (tags/)"] = tag_count_statement()
    cases["floor: SELECT 1"] = [("SELECT 1", [])]  # the round trip and the machine's noise, same rounds
    timings = time_statements(conn, cases, args.repeat, rng)
    report("1. the listing's statements at the database, ms", timings)
    by_likes = [v for k, rounds in timings.items() if k.startswith("list by likes") for v in part(rounds)]
    searched = {
        which: [v for k, r in timings.items() if k.startswith("q ") for v in part(r, which)] for which in (1, None)
    }
    floor = part(timings["floor: SELECT 1"])
    print(f"\n   Against the targets (all rounds of the cases together; the floor, SELECT 1: {_p(floor)} ms):")
    verdict("list by likes, COUNT + page (a miss after a post changes)", by_likes)
    verdict("q searches, page only (a miss after a like: the count is cached)", searched[1])
    verdict("q searches, COUNT + page (a miss after a post changes)", searched[None])
    matches = {}
    for q in QUERIES:
        sql, params = cases[f"q {q}"][0]
        with conn.cursor() as cur:
            cur.execute(sql, params)
            matches[q] = cur.fetchone()[0]
    print("   posts found: " + ", ".join(f"{q} {n}" for q, n in matches.items()))

    shown = ("list by likes, page 1", "list newest, page 1", "tag 考研", "q 复习", "q 线性代数", "q python", "q 学")
    explained = {name: explain(conn, cases[name]) for name in (*shown, "q 复习 by likes", "tag counts (tags/)")}

    trigram_seconds = add_trigram_index(conn, loaded["search_text"])
    trigram = {f"q {q}": trigram_statements(q) for q in QUERIES}
    trigram_timings = time_statements(conn, trigram, args.repeat, rng)
    full_text = time_statements(conn, {k: cases[k][:2] for k in trigram}, args.repeat, rng)  # COUNT + page
    print("\n2. q search, COUNT + page: pg_trgm GIN (LIKE per term) against full-text lexemes (shipped), same rows")
    print(f"{'query':24s} {'trgm p50':>9s} {'trgm p99':>9s} {'fts p50':>9s} {'fts p99':>9s}")
    for name in trigram:
        t, f = part(trigram_timings[name]), part(full_text[name])
        print(
            f"{name[2:]:24s} {statistics.median(t):9.2f} {percentile(t, 0.99):9.2f}"
            f" {statistics.median(f):9.2f} {percentile(f, 0.99):9.2f}"
        )
    for label, values in (("trigram", trigram_timings), ("full text", full_text)):
        every = [v for rounds in values.values() for v in part(rounds)]
        print(f"{'all, ' + label:24s} p50 {statistics.median(every):.2f} ms  p99 {percentile(every, 0.99):.2f} ms")
    sizes = index_sizes(conn)
    full_mib, trigram_mib = (sizes.get(name, 0) / 2**20 for name in ("plansquare_post_search", "bench_post_trgm"))
    print(
        f"index sizes: full text {full_mib:.1f} MiB, trigram {trigram_mib:.1f} MiB ({trigram_seconds:.1f} s to build)"
    )
    for name in ("q 复习", "q 线性代数", "q python"):
        explained[name + " (trigram)"] = explain(conn, trigram[name])

    args.explain.parent.mkdir(parents=True, exist_ok=True)
    args.explain.write_text("\n\n".join(f"=== {name}\n{plan}" for name, plan in explained.items()))
    print(f"EXPLAIN (ANALYZE, BUFFERS) of {len(explained)} cases written to {args.explain}")

    started = time.perf_counter()
    call_command("plansquare_check", stdout=open(os.devnull, "w"))  # noqa: SIM115
    print(f"\n3. plansquare_check over everything: {time.perf_counter() - started:.1f} s, no difference")

    if args.skip_http:
        return
    user = user_register(username="bench", password="bench-password-2026")
    for _label, step in DEMO_STEPS:
        step(user)
    token = session_start(user=user)["access"]
    listing_body = Client(HTTP_HOST="127.0.0.1").get("/api/v1/plan-square/posts/").content
    payload = workdir.path / "listing.json"
    payload.write_bytes(listing_body)
    connection.close()
    conn.close()
    figures = http(workdir, pg.url, args, payload, token)
    floor = figures["bare (floor)"]["rps"]
    print(
        f"\n4. HTTP (wrk -t2 -c{args.connections} -d{args.seconds}s, {args.workers} workers, load {loadavg()}),"
        f" listing payload {len(listing_body)} bytes"
    )
    print(f"{'endpoint':34s} {'req/s':>8s} {'p50 ms':>7s} {'p99 ms':>7s} {'of floor':>9s}")
    for name, r in figures.items():
        bad = f"  ({r['non_2xx']} non-2xx!)" if r["non_2xx"] else ""
        print(f"{name:34s} {r['rps']:8.0f} {r['p50_ms']:7.1f} {r['p99_ms']:7.1f} {r['rps'] / floor:9.0%}{bad}")


if __name__ == "__main__":
    main()
