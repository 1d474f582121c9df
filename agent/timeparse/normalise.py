# ruff: noqa: RUF001, RUF002, E501  (full-width and traditional characters are the point here)
"""Text → the one form the grammar reads, with a map back to the original offsets.

- full-width ASCII (１２：３０, ＡＭ) → ASCII; ideographic space → space; dashes → "-";
- A-Z → a-z (ASCII only: str.lower() may change a string's length);
- traditional characters the grammar and the intent rules read → simplified, one for one
  (週→周, 點→点, 後→后, 聽→听 …). A table rather than OpenCC: OpenCC converts phrases and
  may change the length (breaking the offsets), and costs more than the whole parse;
- every run of whitespace → one space. This bounds every `\\s?` in the grammar to one
  character, which is what keeps the patterns linear on adversarial input;
- English chat shorthand for time words → the words (nxt wk → next week, b4 → before), so the
  grammar has one spelling to read; the offsets map back to the shorthand as written.
"""

from __future__ import annotations

import re
from bisect import bisect_right

_TRADITIONAL = "週點後個號禮鐘時兩幾這過內間開會晝說還從現頭歲請於離麼們準備約報題書記別與為嗎聽尋來將節線讓設計劃進閒長歷曆錯課業試電話車機場學習寫畫問幫給樣沒無緊優務單項餘裡裏認識舊調換遲規劃剩東邊該際總結稿論費繳複診審覆郵處餐閱讀續證護照辦預考數線們隻麵買賣帶發達陽陰氣聖誕國慶兒勞動萬師婦樹軍黨雙風爲樂傳體關擊則剛區廳參臺啓啟壞復盡牀應張當掃櫃樓溫潰滿煩著碼籤級經綴獲慮補見訂訓議評訴語説貼贊趕較連選鬱鍾鍵門悶閲隊陣難須領飯館驗黃親倉農棟臘艙閘興衝塗紀曬"
_SIMPLIFIED = "周点后个号礼钟时两几这过内间开会昼说还从现头岁请于离么们准备约报题书记别与为吗听寻来将节线让设计划进闲长历历错课业试电话车机场学习写画问帮给样没无紧优务单项余里里认识旧调换迟规划剩东边该际总结稿论费缴复诊审复邮处餐阅读续证护照办预考数线们只面买卖带发达阳阴气圣诞国庆儿劳动万师妇树军党双风为乐传体关击则刚区厅参台启启坏复尽床应张当扫柜楼温溃满烦着码签级经缀获虑补见订训议评诉语说贴赞赶较连选郁钟键门闷阅队阵难须领饭馆验黄亲仓农栋腊舱闸兴冲涂纪晒"
assert len(_TRADITIONAL) == len(_SIMPLIFIED)

_TABLE = {ord(t): s for t, s in zip(_TRADITIONAL, _SIMPLIFIED, strict=True)}
_TABLE.update({code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)})  # full-width ASCII
_TABLE.update({ord(c): ord(c.lower()) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"})
_TABLE.update({0x3000: 0x20, 0x2010: 0x2D, 0x2011: 0x2D, 0x2013: 0x2D, 0x2014: 0x2D, 0xFF5E: 0x7E, 0x2019: 0x27})
_TABLE.update({ord("。"): ord("."), ord("，"): ord(","), ord("、"): ord(",")})
for upper in range(0xFF21, 0xFF3B):  # full-width A-Z → a-z
    _TABLE[upper] = upper - 0xFEE0 + 0x20

_SHORTHAND = {
    "nxt": "next",
    "wk": "week",
    "wks": "weeks",
    "wkend": "weekend",
    "wknd": "weekend",
    "b4": "before",
    "bfr": "before",
    "2nite": "tonight",
    "2night": "tonight",
    "2day": "today",
    "nite": "night",
    "morn": "morning",
    "2mrw": "tomorrow",
    "2morrow": "tomorrow",
    "tmrow": "tomorrow",
}
# a whitespace run, or a shorthand word standing alone (not inside "b4x" or "wk5")
_SPACE = re.compile(r"\s+|(?<![a-z0-9])(?:" + "|".join(sorted(_SHORTHAND, key=len, reverse=True)) + r")(?![a-z0-9])")


class Normalised:
    """`text`: what the grammar reads; `original(start, end)`: the span in the user's text."""

    __slots__ = ("_norm_starts", "_orig_lengths", "_orig_starts", "raw", "text")

    def __init__(self, raw: str):
        self.raw = raw
        translated = raw.translate(_TABLE)
        pieces: list[str] = []
        norm_starts: list[int] = []
        orig_starts: list[int] = []
        orig_lengths: list[int] = []
        length = last = 0
        for m in _SPACE.finditer(translated):
            word = m[0]
            replacement = " " if word[0].isspace() else _SHORTHAND[word]
            for segment, origin, size in (
                (translated[last : m.start()], last, m.start() - last),
                (replacement, m.start(), len(word)),
            ):
                pieces.append(segment)
                norm_starts.append(length)
                orig_starts.append(origin)
                orig_lengths.append(size)
                length += len(segment)
            last = m.end()
        pieces.append(translated[last:])
        norm_starts.append(length)
        orig_starts.append(last)
        orig_lengths.append(len(translated) - last)
        self.text = "".join(pieces)
        self._norm_starts = norm_starts
        self._orig_starts = orig_starts
        self._orig_lengths = orig_lengths

    def _at(self, index: int) -> int:
        i = bisect_right(self._norm_starts, index) - 1
        # within a piece that changed length (a whitespace run, a shorthand word), stay inside its original
        return self._orig_starts[i] + min(index - self._norm_starts[i], max(self._orig_lengths[i] - 1, 0))

    def original(self, start: int, end: int) -> tuple[int, int]:
        if end <= start:
            return self._at(start), self._at(start)
        return self._at(start), self._at(end - 1) + 1


def normalise(raw: str) -> Normalised:
    return Normalised(raw)
