# ruff: noqa: RUF001  (Chinese numerals)
"""Number words: Chinese numerals (through cn2an) and English number words."""

from __future__ import annotations

from functools import lru_cache

import cn2an

CN_DIGITS = "零〇一二两三四五六七八九十百千廿卅"
CN_NUM = rf"[{CN_DIGITS}]{{1,5}}"
NUM = rf"(?:\d{{1,4}}|{CN_NUM})"

_EN_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_EN_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_ONES = "one|two|three|four|five|six|seven|eight|nine"
EN_NUMWORD = (
    r"(?:(?:"
    + "|".join(_EN_TENS)
    + rf")(?:[- ](?:{_ONES}))?|"
    + "|".join(sorted(_EN_UNITS, key=len, reverse=True))
    + ")"
)
EN_HOURWORD = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
EN_MINUTEWORD = (
    r"(?:oh[- ](?:" + _ONES + r")|o'?(?:" + _ONES + r")|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|(?:twenty|thirty|forty|fifty)(?:[- ](?:" + _ONES + r"))?)"
)


@lru_cache(maxsize=512)
def cn_int(token: str) -> int:
    """一 / 十五 / 两 / 廿五 / 二〇二七 / 12 → int; -1 when the characters are not a number."""
    if token.isdigit():
        return int(token)
    token = token.replace("〇", "零").replace("廿", "二十").replace("卅", "三十")
    if len(token) == 4 and all(ch in "零一二三四五六七八九" for ch in token):  # a year read digit by digit
        return int("".join(str("零一二三四五六七八九".index(ch)) for ch in token))
    try:
        return int(cn2an.cn2an(token, "smart"))
    except ValueError:
        return -1  # not a number (两千零二七): every caller's range check then refuses it


def en_int(token: str) -> int:
    token = token.strip().lower()
    if token.isdigit():
        return int(token)
    if token in ("a", "an"):
        return 1
    if token in _EN_UNITS:
        return _EN_UNITS[token]
    for sep in ("-", " "):
        if sep in token:
            tens, ones = token.split(sep, 1)
            return _EN_TENS[tens] + _EN_UNITS[ones]
    return _EN_TENS[token]


def en_minutes(token: str) -> int:
    """'oh five' / 'o5' / 'fifteen' / 'forty-five' → minutes."""
    token = token.strip().lower()
    if token.startswith(("oh", "o'", "o")) and not token.startswith("one"):
        tail = token.split("-", 1)[-1] if "-" in token else token.split(" ", 1)[-1] if " " in token else token
        tail = tail.lstrip("o'h")
        return en_int(tail)
    return en_int(token)
