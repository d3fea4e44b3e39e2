"""The start page: Vietnamese first with an English toggle, the demo people with one-click
sign-in, and a sign-in by token that refuses a bad one."""

from __future__ import annotations


def test_demo_people_and_language(tabs, server) -> None:
    people = server.get("/api/v1/demo/people")["people"]
    assert {p["role"] for p in people} == {"trader", "cooperative", "lab", "analyst", "operator"}
    tab = tabs()
    page = tab.open("/")
    assert page.locator("html").get_attribute("lang") == "vi"
    assert "Chợ đầu mối dược liệu Lào Cai" in page.inner_text("h1")
    assert page.locator("button[data-participant]").count() == len(people)
    page.click("#lang")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Lào Cai medicinal-herb market" in page.inner_text("h1")
    page.reload()
    tab.ready()
    assert "medicinal-herb market" in page.inner_text("h1")  # the choice is remembered
    tab.sign_in("demo-web-t1")
    assert "/floor" in page.url
    assert "WEB-T1" in page.get_attribute(".who-name", "title")
    assert tab.errors == []


def test_sign_in_with_token(tabs) -> None:
    tab = tabs()
    page = tab.open("/")
    page.click("#signin-open")
    page.fill("#signin-token", "not-a-token")
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#signin-error:not(:empty)")
    assert "thu hồi" in page.inner_text("#signin-error")  # unauthorized, in Vietnamese
    page.fill("#signin-token", "demo-web-htx")
    with page.expect_navigation():
        page.click("#signin-form button[type=submit]")
    page.wait_for_selector(".who-name")
    assert page.get_attribute(".who-name", "title") == "WEB-HTX"
    # a refused sign-in shows a 401 in the console: that one is expected
    assert all("401" in e for e in tab.errors)
