"""The published site's files: self-contained, in the course's language, plots present, private links."""

from __future__ import annotations

import re

from grader.publish.site import student_key


def test_the_site_is_self_contained_and_in_the_course_language(season):
    course, site, files = season
    assert {"index.html", "index.md", "assets/site.css", "assets/site.js", "hw99/index.html", "hw99/public.html",
            "hw99/private.html", "hw99/public.csv", "hw99/private.json"} <= {str(p.relative_to(site)) for p in files}
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert not re.search(r'(src|href)="(https?:)?//', text), f"{page} fetches from the network"
        assert '<html lang="zh-TW">' in text
    hw = (site / "hw99" / "index.html").read_text()
    assert "公開" in hw and "私人" in hw and "名次" in hw  # tabs and headings in Traditional Chinese
    assert hw.count("<svg") == 4, "distribution, rush, shake-up, passing"
    assert 'class="baseline"' in hw and 'scope="col"' in hw and 'role="tab"' in hw


def test_student_pages_are_reachable_only_by_their_private_link(season):
    course, site, _ = season
    links = (course.root / "site-links.csv").read_text().splitlines()[1:]
    assert len(links) == 12
    sid, _, link = links[0].split(",")
    assert link == f"students/{student_key(course.secret, sid)}.html" and (site / link).is_file()
    assert sid in (site / link).read_text() and "noindex" in (site / link).read_text()
    index = (site / "index.html").read_text() + (site / "hw99" / "index.html").read_text()
    assert "students/" not in index and not (site / "site-links.csv").exists()


def test_the_shakeup_names_movers(season):
    _, site, _ = season
    shake = (site / "hw99" / "index.html").read_text().split("<figure>")[3]
    assert "→" in shake, "the biggest movers are annotated with public→private ranks"
