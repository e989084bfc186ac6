"""Oracle for TCA4RecText: the official filter_title / convert_brand (critical88/TCA4Rec utils/preprocess.py)
restated, on Python's own html.unescape. Reads JSON lines {"kind": "title"|"brand"|"unescape", "text": ...}
on stdin and writes one JSON string per line."""
import html
import json
import sys
from string import ascii_letters, digits, punctuation, whitespace

FLAG = ascii_letters + digits + punctuation + whitespace
PAIRS = [("“", '"'), ("”", '"'), ("‘", "'"), ("’", "'"), ("–", "-"), ("\n", " "), ("\r", " "), ("…", ""),
         ("‚", ","), ("´", "'"), ("&ndash;", "-"), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"), ("&quot;", '"'),
         ("&nbsp;", " "), ("&copy;", "©"), ("″", '"'), ("【", "["), ("】", "]"), ("—", "-"), ("−", "-")]
BLANKED = [127, 174, 160, 170, 8482, 188, 162, 189, 8594, 169, 235, 168, 957, 12288, 8222, 179, 190, 173, 186, 8225]


def clean(x, unknown, at_once):
    x = html.unescape(x)
    for a, b in PAIRS:
        x = x.replace(a, b)
    for ci in BLANKED:
        x = x.replace(chr(ci), " ")
    while "  " in x:
        x = x.replace("  ", " ")
    x = x.strip()
    if "abcdefg" in x.lower():
        x = unknown
        if at_once:
            return x
    for letter in x:
        if letter not in FLAG:
            return FLAG
    if len(set(x) & set(ascii_letters)) == 0 or len(x) < 3:
        return FLAG
    if len(x) > 150:
        x = x[:150]
        x = " ".join(x.strip().split(" ")[:-1])
        while x and x[-1] not in ascii_letters + digits:
            x = x[:-1]
    return x


for line in sys.stdin:
    request = json.loads(line)
    text = request["text"]
    if request["kind"] == "title":
        result = clean(text, "unknown title", False)
    elif request["kind"] == "brand":
        result = clean(text, "unknown brand", True)
    else:
        result = html.unescape(text)
    print(json.dumps(result))
