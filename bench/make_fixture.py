#!/usr/bin/env python3
"""Writes a benchmark fixture for invent-mock (python3 standard library only).

One org, "org_bench" with API key "sk_bench", 2 or 3 segments, and N contacts
ct_0 .. ct_{N-1}. Each contact has one whatsapp_bot channel and belongs to one
or two segments; every 10th is blocked, every 7th unsubscribed, every 100th an
admin. The output is deterministic: the same arguments always give
the same bytes, so the server's fixture hash is stable between runs.

    python3 bench/make_fixture.py --contacts 1000 --out /tmp/bench.json

With --people (the list benchmark's data) contacts are named after people
("Grace Hopper": 64 first names by 64 last names, each name in 1 in 64
contacts) with an email and a username beside the phone, and the org has
two segments: seg_half (every other contact) and seg_small (1 in 100).
"""
import argparse
import datetime
import json
import os
import sys
import tempfile

SEGMENTS = [
    ("seg_bench_a", "Bench A", "amber"),
    ("seg_bench_b", "Bench B", "sky"),
    ("seg_bench_c", "Bench C", "violet"),
]
COUNTRIES = ["US", "GB", "DE", "BR", "IN", "FR", "ES", "JP"]
LANGUAGES = ["en", "en", "de", "pt", "hi", "fr", "es", "ja"]
EPOCH = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


def stamp(minutes):
    t = EPOCH + datetime.timedelta(minutes=minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def contact(i, segment_ids):
    name = "Bench Contact %d" % i
    digits = "1555%07d" % i
    created = stamp(i)
    nseg = len(segment_ids)
    member = [segment_ids[i % nseg]]
    if i % 2 == 0:  # every other contact is in a second segment too
        member.append(segment_ids[(i + 1) % nseg])
    return {
        "id": "ct_%d" % i,
        "name": name,
        "created_at": created,
        "updated_at": created,
        "channels": [{
            "id": "ch_%d_wa" % i,
            "type": "whatsapp_bot",
            "user_id": "+" + digits,
            "name": name,
            "phone": "+" + digits,
            "country": COUNTRIES[i % len(COUNTRIES)],
            "language": LANGUAGES[i % len(LANGUAGES)],
            "platform_data": {"wa_id": digits, "profile_name": name},
            "link": "https://wa.me/" + digits,
        }],
        "segments": member,
        # A share of blocked and unsubscribed contacts, so the status filters
        # of the list benchmark select something.
        "blocked": i % 10 == 3,
        "unsubscribed": i % 7 == 5,
        "is_admin": i % 100 == 0,
    }


FIRST = ("Grace Ada Alan Barbara Edsger Donald Margaret Dennis Ken Bjarne Niklaus John "
         "Frances Radia Tim Vint Leslie Butler Claude Hedy Katherine Dorothy Mary Annie "
         "Jean Kathleen Adele Betty Ruth Marlyn Evelyn Gladys Shafi Silvio Judea Yoshua "
         "Geoffrey Yann Fei Cynthia Sophie Lynn Anita Susan Carol Joan Rosalind Lise "
         "Emmy Sofia Maryam Hypatia Chien Wu Ida Rachel Nancy Ivan Andrew Whitfield "
         "Martin Robert Ralph Peter").split()
LAST = ("Hopper Lovelace Turing Liskov Dijkstra Knuth Hamilton Ritchie Thompson "
        "Stroustrup Wirth McCarthy Allen Perlman Berners Cerf Lamport Lampson Shannon "
        "Lamarr Johnson Vaughan Keller Easley Sammet Booth Goldstine Holberton Teitelbaum "
        "Wescoff Boyd West Goldwasser Micali Pearl Bengio Hinton LeCun Li Dwork Wilson "
        "Conway Borg Graham Kapor Goldberg Franklin Meitner Noether Kovalevskaya "
        "Mirzakhani Alexandria Shiung Xiong Rhodes Carson Leveson Sutherland Yao Diffie "
        "Hellman Merkle Floyd Naur").split()
assert len(FIRST) == 64 and len(LAST) == 64, (len(FIRST), len(LAST))
PEOPLE_SEGMENTS = [("seg_half", "Half", "amber"), ("seg_small", "Small", "sky")]


def person(i):
    first, last = FIRST[i % 64], LAST[(i // 64) % 64]
    name = "%s %s" % (first, last)
    digits = "1555%07d" % i
    created = stamp(i)
    member = [s for s, keep in (("seg_half", i % 2 == 0), ("seg_small", i % 100 == 7)) if keep]
    return {
        "id": "ct_%d" % i,
        "name": name,
        "created_at": created,
        "updated_at": created,
        "channels": [{
            "id": "ch_%d" % i,
            "type": "custom",
            "user_id": "+" + digits,
            "name": name,
            "username": "%s%s%d" % (first.lower(), last.lower(), i),
            "email": "%s.%s.%d@example.com" % (first.lower(), last.lower(), i),
            "phone": "+" + digits,
            "country": COUNTRIES[i % len(COUNTRIES)],
            "language": LANGUAGES[i % len(LANGUAGES)],
        }],
        "segments": member,
        "blocked": i % 10 == 3,
        "unsubscribed": i % 7 == 5,
        "is_admin": i % 100 == 0,
    }


def build_people(n, org_id, key):
    return {"orgs": [{
        "id": org_id,
        "name": "Bench Org",
        "api_keys": [key],
        "segments": [{"id": s, "name": nm, "color": col,
                      "created_at": stamp(0), "updated_at": stamp(0)}
                     for s, nm, col in PEOPLE_SEGMENTS],
        "contacts": [person(i) for i in range(n)],
    }]}


def build(n, n_segments, org_id, key):
    segs = SEGMENTS[:n_segments]
    return {"orgs": [{
        "id": org_id,
        "name": "Bench Org",
        "api_keys": [key],
        "segments": [{"id": s, "name": nm, "color": col,
                      "created_at": stamp(0), "updated_at": stamp(0)}
                     for s, nm, col in segs],
        "contacts": [contact(i, [s[0] for s in segs]) for i in range(n)],
    }]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--contacts", type=int, default=1000, metavar="N",
                    help="number of contacts ct_0..ct_{N-1} (default 1000)")
    ap.add_argument("--out", default="-", metavar="FILE",
                    help="output file, - for stdout (default -)")
    ap.add_argument("--segments", type=int, default=3, choices=(2, 3),
                    help="number of segments (default 3)")
    ap.add_argument("--org", default="org_bench", help="org id (default org_bench)")
    ap.add_argument("--key", default="sk_bench", help="API key (default sk_bench)")
    ap.add_argument("--people", action="store_true",
                    help="contacts named after people, for the list benchmark")
    args = ap.parse_args(argv)
    if args.contacts < 0:
        ap.error("--contacts must be 0 or more")

    if args.people:
        doc = build_people(args.contacts, args.org, args.key)
    else:
        doc = build(args.contacts, args.segments, args.org, args.key)
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    # Write beside the target and rename, so a reader never sees half a file.
    d = os.path.dirname(os.path.abspath(args.out))
    fd, tmp = tempfile.mkstemp(prefix=".fixture-", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, args.out)
    except BaseException:
        os.unlink(tmp)
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
