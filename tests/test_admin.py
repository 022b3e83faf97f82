"""Admin use cases: input parsing and validation, preview and confirm, audit, statistics."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from bot import replies
from bot.admin import (
    ADMIN_COMMANDS,
    Admin,
    InputError,
    parse_local_date,
    parse_local_datetime,
    parse_regions,
    parse_repeat,
    parse_when,
    split_command,
)
from bot.config import Settings
from bot.knowledge import KnowledgeBase, KnowledgeError, Problem
from bot.models import Action, ActionKind, BroadcastStatus, ChatRef, DeliveryStatus, Reply
from bot.store import Store
from tests.broadcast_fakes import tg

WIB, WITA, WIT = ZoneInfo("Asia/Jakarta"), ZoneInfo("Asia/Makassar"), ZoneInfo("Asia/Jayapura")
NOW = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)  # 10.00 WIB
ADMIN, CHAT, STRANGER = tg(900), tg(900), tg(12345)


@pytest.fixture
def changes() -> list[dt.datetime]:
    return []


@pytest.fixture
def admin(store: Store, kb: KnowledgeBase, changes: list[dt.datetime]) -> Admin:
    settings = Settings(admin_ids=frozenset({900}))
    return Admin(store, settings, lambda: kb, on_change=changes.append)


def confirm(admin: Admin, reply: Reply, now: dt.datetime = NOW,
            user: ChatRef = ADMIN) -> Reply:
    ok = next(b for b in reply.buttons if b.action.kind is ActionKind.ADMIN_CONFIRM)
    return admin.press(user, ok.action, now)


# -- parsing ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-01 07:00", dt.datetime(2026, 12, 1, 7, 0, tzinfo=WIB)),
    ("2026-12-01T07:00", dt.datetime(2026, 12, 1, 7, 0, tzinfo=WIB)),
    ("1/12/2026 07.00", dt.datetime(2026, 12, 1, 7, 0, tzinfo=WIB)),
    ("01-12-2026 7:05 WITA", dt.datetime(2026, 12, 1, 7, 5, tzinfo=WITA)),
    ("1.12.2026 19.30 wit", dt.datetime(2026, 12, 1, 19, 30, tzinfo=WIT)),
    ("1 Desember 2026 pukul 07.00 WIB", dt.datetime(2026, 12, 1, 7, 0, tzinfo=WIB)),
    ("  17 agt 2027, jam 08:15  ", dt.datetime(2027, 8, 17, 8, 15, tzinfo=WIB)),
])
def test_parse_local_datetime(text: str, expected: dt.datetime) -> None:
    parsed = parse_local_datetime(text, WIB)
    assert parsed == expected and parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(("text", "fragment"), [
    ("besok pagi", "tidak terbaca"),
    ("2026-12-01", "tidak terbaca"),
    ("2026-12-01 25:00", "tidak terbaca"),
    ("12/01/26 07:00", "tidak terbaca"),
    ("1 Desembr 2026 07.00", "tidak terbaca"),
    ("2026-12-01 07:00 CET", "tidak terbaca"),
    ("31/02/2027 07:00", "tidak ada di kalender"),
])
def test_unreadable_datetimes_say_what_to_write(text: str, fragment: str) -> None:
    with pytest.raises(InputError) as error:
        parse_local_datetime(text, WIB)
    assert fragment in str(error.value)
    if fragment == "tidak terbaca":
        assert "2026-12-01 07:00" in str(error.value)  # shows an example to copy


def test_parse_helpers(kb: KnowledgeBase) -> None:
    assert parse_local_date("31 Desember 2026") == dt.date(2026, 12, 31)
    assert parse_regions("jabar, DKI,jabar", kb.regions) == ("jabar", "dki")
    assert parse_regions("semua", kb.regions) is None
    with pytest.raises(InputError, match="atlantis"):
        parse_regions("jabar,atlantis", kb.regions)
    assert parse_repeat("senin") == (7, 0)
    assert parse_repeat("harian") == (1, None)
    assert parse_repeat("3hari") == (3, None)
    with pytest.raises(InputError):
        parse_repeat("kadang")
    assert split_command("2026-12-01 07:00 | Halo\nsemua") == ("2026-12-01 07:00", "Halo\nsemua")
    assert split_command("2026-12-01 07:00\nHalo | semua") == ("2026-12-01 07:00",
                                                                "Halo | semua")


# -- who may ------------------------------------------------------------------------------------
def test_non_admins_are_refused_politely_and_audited(admin: Admin, store: Store) -> None:
    replies_ = [
        admin.help(STRANGER, NOW),
        admin.draft_broadcast(STRANGER, STRANGER, "2026-12-01 07:00\nHalo", NOW),
        admin.list_upcoming(STRANGER, NOW),
        admin.cancel(STRANGER, "1", NOW),
        admin.send_now(STRANGER, STRANGER, "1", NOW),
        admin.progress(STRANGER, "", NOW),
        admin.statistics(STRANGER, NOW),
        admin.unanswered(STRANGER, NOW),
        admin.reload_knowledge(STRANGER, NOW, lambda: pytest.fail("must not reload")),
        admin.press(STRANGER, Action(ActionKind.ADMIN_CONFIRM, "1"), NOW),
    ]
    assert {r.text for r in replies_} == {replies.ADMIN_REFUSED}
    assert all(not r.buttons for r in replies_)
    log = store.audit_log()
    assert len(log) == len(replies_)
    assert {(e["user_id"], e["allowed"]) for e in log} == {(STRANGER.id, 0)}
    assert {e["detail"] for e in log} == {""}  # what a non-admin typed is not kept
    assert store.upcoming_broadcasts() == []
    store.delete_chat(STRANGER)  # /hapusdata removes the refused attempts too
    assert store.audit_log() == []


@pytest.mark.parametrize("arg", ["²", "9" * 40, "-1", "#x"])
def test_odd_broadcast_ids_say_what_to_fix(admin: Admin, arg: str) -> None:
    for reply in (admin.cancel(ADMIN, arg, NOW), admin.send_now(ADMIN, CHAT, arg, NOW)):
        assert reply.text.startswith(replies.ADMIN_NEED_ID.split("{")[0])


def test_every_admin_action_is_audited(admin: Admin, store: Store) -> None:
    admin.help(ADMIN, NOW)
    admin.statistics(ADMIN, NOW)
    confirm(admin, admin.draft_broadcast(ADMIN, CHAT, "2026-12-01 07:00\nHalo", NOW))
    actions = [e["action"] for e in reversed(store.audit_log())]
    assert actions == ["admin", "statistik", "siaran", "button", "created"]
    assert all(e["allowed"] == 1 for e in store.audit_log())


def test_help_lists_every_admin_command(admin: Admin) -> None:
    text = admin.help(ADMIN, NOW).text
    assert all(f"/{name}" in text for name in ADMIN_COMMANDS if name != "admin")
    assert "WIB" in text


# -- scheduling ---------------------------------------------------------------------------------
def test_preview_then_confirm_schedules_in_local_time(admin: Admin, store: Store,
                                                      changes: list[dt.datetime]) -> None:
    store.subscribe(tg(1), "jabar", NOW)
    store.subscribe(tg(2), "dki", NOW)
    store.subscribe(tg(3), "papua", NOW)
    preview = admin.draft_broadcast(
        ADMIN, CHAT, "1/12/2026 07.00 wilayah=jabar,dki\nSelamat pagi, rekan ASN.", NOW)
    assert "Pratinjau" in preview.text and "Selamat pagi, rekan ASN." in preview.text
    assert "1 Desember 2026 pukul 07.00 WIB" in preview.text
    assert "Jawa Barat, DKI Jakarta" in preview.text and "2 pelanggan" in preview.text
    assert [b.label for b in preview.buttons] == [replies.ADMIN_CONFIRM_BUTTON,
                                                  replies.ADMIN_DISCARD_BUTTON]
    assert all(len(b.action.arg) <= 20 for b in preview.buttons)
    assert store.upcoming_broadcasts() == [] and changes == []  # nothing before confirming

    done = confirm(admin, preview)
    [broadcast] = store.upcoming_broadcasts()
    assert f"#{broadcast.id}" in done.text and "/batalsiaran" in done.text
    assert broadcast.send_at == dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)  # 07.00 WIB
    assert broadcast.regions == ("jabar", "dki")
    assert (broadcast.created_by, broadcast.notify_chat) == (ADMIN, CHAT)
    assert changes == [NOW]
    assert confirm(admin, preview).text == replies.ADMIN_DRAFT_EXPIRED  # only once
    assert len(store.upcoming_broadcasts()) == 1


def test_times_in_other_zones_are_stored_as_utc(admin: Admin, store: Store) -> None:
    confirm(admin, admin.draft_broadcast(ADMIN, CHAT, "2026-12-01 07:00 WIT | Halo Papua", NOW))
    assert store.upcoming_broadcasts()[0].send_at == dt.datetime(2026, 11, 30, 22, 0,
                                                                 tzinfo=dt.UTC)


def test_discard_and_stale_buttons(admin: Admin, store: Store) -> None:
    first = admin.draft_broadcast(ADMIN, CHAT, "2026-12-01 07:00\nSatu", NOW)
    second = admin.draft_broadcast(ADMIN, CHAT, "2026-12-01 08:00\nDua", NOW)
    assert confirm(admin, first).text == replies.ADMIN_DRAFT_EXPIRED  # replaced by the second
    discard = next(b for b in second.buttons if b.action.kind is ActionKind.ADMIN_DISCARD)
    assert admin.press(ADMIN, discard.action, NOW).text == replies.ADMIN_DRAFT_DISCARDED
    assert confirm(admin, second).text == replies.ADMIN_DRAFT_EXPIRED
    third = admin.draft_broadcast(ADMIN, CHAT, "2026-12-01 09:00\nTiga", NOW)
    late = NOW + dt.timedelta(hours=2)
    assert confirm(admin, third, late).text == replies.ADMIN_DRAFT_EXPIRED  # older than 1 h
    assert admin.press(ADMIN, Action(ActionKind.PLEDGE), NOW).text == replies.ADMIN_DRAFT_EXPIRED
    assert store.upcoming_broadcasts() == []


def test_a_preview_confirmed_after_its_time_is_refused(admin: Admin, store: Store) -> None:
    preview = admin.draft_broadcast(ADMIN, CHAT, "22/11/2026 10.30\nSegera", NOW)
    reply = confirm(admin, preview, NOW + dt.timedelta(minutes=45))
    assert "sudah lewat" in reply.text
    assert store.upcoming_broadcasts() == []


def test_send_at_once_with_sekarang(admin: Admin, store: Store,
                                    changes: list[dt.datetime]) -> None:
    preview = admin.draft_broadcast(ADMIN, CHAT, "sekarang\nPengumuman penting", NOW)
    assert "sekarang" in preview.text
    later = NOW + dt.timedelta(minutes=3)
    reply = confirm(admin, preview, later)
    [broadcast] = store.upcoming_broadcasts()
    assert broadcast.send_at == later and f"#{broadcast.id}" in reply.text
    assert changes == [later]  # the scheduler's sync starts it now


@pytest.mark.parametrize(("args", "fragment"), [
    ("kapan-kapan\nHalo", "tidak terbaca"),
    ("2026-11-22 09:00\nHalo", "sudah lewat"),          # 09.00 WIB is before 10.00 WIB
    ("2026-12-01 07:00", "Teks siaran kosong"),
    ("2026-12-01 07:00 |   ", "Teks siaran kosong"),
    ("2026-12-01 07:00 wilayah=jabar,narnia\nHalo", "narnia"),
    ("2026-12-01 07:00 warna=merah\nHalo", "warna"),
    ("2026-12-01 07:00 ulang=senin\nHalo", "batas akhir"),
    ("2026-12-01 07:00 ulang=kadang sampai=2026-12-31\nHalo", "kadang"),
    ("2026-12-01 07:00 ulang=harian sampai=2027-12-31\nHalo", "lebih dari 60"),
    ("2026-12-01 07:00 ulang=harian sampai=2026-11-30\nHalo", "lebih awal"),
    ("2026-12-01 07:00 ulang=harian tahap=pemilu_2099/kampanye\nHalo", "tidak ada di kalender"),
    ("2026-12-01 07:00 ulang=senin tahap=pilkada_2024/kampanye\nHalo", "sudah berakhir"),
])
def test_bad_input_says_what_to_fix(admin: Admin, store: Store, args: str,
                                    fragment: str) -> None:
    reply = admin.draft_broadcast(ADMIN, CHAT, args, NOW)
    assert fragment in reply.text
    assert reply.buttons == ()
    assert store.upcoming_broadcasts() == []


def test_text_over_the_message_limit_says_by_how_much(admin: Admin) -> None:
    room = replies.broadcast_room(Settings().broadcast_sender)  # room for the header, stop line
    assert 3900 < room < 4096
    reply = admin.draft_broadcast(ADMIN, CHAT, "2026-12-01 07:00\n" + "a" * (room + 4), NOW)
    limit = replies.format_number(room)
    assert replies.format_number(room + 4) in reply.text and limit in reply.text
    assert "4 karakter" in reply.text
    fits = admin.draft_broadcast(ADMIN, CHAT, "2026-12-01 07:00\n" + "a" * room, NOW)
    assert fits.buttons


def test_weekly_series_until_a_date(admin: Admin, store: Store) -> None:
    preview = admin.draft_broadcast(
        ADMIN, CHAT, "2026-11-25 07:00 ulang=senin sampai=2026-12-31\nSenin netral!", NOW)
    assert "5 kali" in preview.text
    reply = confirm(admin, preview)
    series = store.upcoming_broadcasts()
    local = [b.send_at.astimezone(WIB) for b in series]
    assert [d.day for d in local] == [30, 7, 14, 21, 28]
    assert {d.weekday() for d in local} == {0} and {d.hour for d in local} == {7}
    assert {b.series for b in series} == {series[0].id}
    assert "5 kiriman" in reply.text

    cancelled = admin.cancel(ADMIN, str(series[2].id), NOW)
    assert "4 kiriman lain" in cancelled.text
    assert store.upcoming_broadcasts() == []


def test_every_n_days_during_a_calendar_stage(admin: Admin, store: Store,
                                              kb: KnowledgeBase) -> None:
    stage = kb.calendar.elections[1].stage("kampanye")  # Pilkada 2024
    assert stage is not None
    during = dt.datetime(2024, 9, 20, tzinfo=dt.UTC)
    preview = admin.draft_broadcast(
        ADMIN, CHAT, "2024-09-01 07:00 ulang=14hari tahap=pilkada_2024/kampanye\nIngat!", during)
    confirm(admin, preview, during)
    local = [b.send_at.astimezone(WIB).date() for b in store.upcoming_broadcasts()]
    assert local[0] == stage.start and local[-1] <= stage.end
    assert all((b - a).days == 14 for a, b in pairwise(local))


# -- managing -----------------------------------------------------------------------------------
def test_list_upcoming_cancel_and_send_now(admin: Admin, store: Store,
                                           changes: list[dt.datetime]) -> None:
    assert admin.list_upcoming(ADMIN, NOW).text == replies.ADMIN_NO_UPCOMING
    for args in ("2026-12-01 07:00 wilayah=papua\nUntuk Papua",
                 "2026-12-02 07:00\nUntuk semua pelanggan yang budiman dan tetap netral"):
        confirm(admin, admin.draft_broadcast(ADMIN, CHAT, args, NOW))
    first, second = store.upcoming_broadcasts()
    listing = admin.list_upcoming(ADMIN, NOW).text
    assert f"#{first.id}" in listing and "Papua" in listing and "semua pelanggan" in listing
    assert listing.index(f"#{first.id}") < listing.index(f"#{second.id}")

    assert "Sebutkan nomor" in admin.cancel(ADMIN, "", NOW).text
    assert "tidak ditemukan" in admin.cancel(ADMIN, "999", NOW).text
    assert f"#{first.id} dibatalkan" in admin.cancel(ADMIN, f"#{first.id}", NOW).text
    assert "sudah dibatalkan" in admin.cancel(ADMIN, str(first.id), NOW).text

    changes.clear()
    later = NOW + dt.timedelta(minutes=1)
    recap = admin.send_now(ADMIN, tg(777), str(second.id), later)
    assert changes == [] and store.broadcast(second.id).send_at != later  # asks first
    assert "mulai dikirim" in confirm(admin, recap, later).text
    moved = store.broadcast(second.id)
    assert moved is not None and moved.send_at == later and moved.notify_chat == tg(777)
    assert changes == [later]
    assert "sudah dibatalkan" in admin.send_now(ADMIN, CHAT, str(first.id), NOW).text
    assert "Sebutkan nomor" in admin.send_now(ADMIN, CHAT, "x", NOW).text


def test_progress_shows_sent_pending_failed_blocked(admin: Admin, store: Store) -> None:
    assert admin.progress(ADMIN, "", NOW).text == replies.ADMIN_NO_BROADCASTS
    for chat in range(1, 6):
        store.subscribe(tg(chat), None, NOW)
    bid = store.create_broadcast("Halo", NOW, None, ADMIN, NOW).id
    store.claim_broadcast(bid, NOW)
    for chat, status in ((1, DeliveryStatus.SENT), (2, DeliveryStatus.SENT),
                         (3, DeliveryStatus.FAILED), (4, DeliveryStatus.BLOCKED)):
        store.begin_delivery(bid, tg(chat))
        store.finish_delivery(bid, tg(chat), status, NOW)
    store.record_sending_time(bid, 125)  # what the Broadcaster stores at each report
    later = NOW + dt.timedelta(hours=3)  # downtime does not count
    text = admin.progress(ADMIN, "", later).text
    assert f"#{bid}" in text and "sedang dikirim" in text and "80% (4 dari 5)" in text
    assert "terkirim 2" in text and "menunggu 1" in text and "gagal 1" in text
    assert "memblokir 1" in text and "waktu kirim 2 menit 5 detik" in text
    assert admin.progress(ADMIN, str(bid), later).text == text
    assert "tidak ditemukan" in admin.progress(ADMIN, "42", later).text


def test_statistics_and_unanswered_questions(admin: Admin, store: Store) -> None:
    store.subscribe(tg(1), "jabar", NOW)
    store.subscribe(tg(2), "jabar", NOW)
    store.subscribe(tg(3), None, NOW)
    store.record_pledge(tg(1), NOW)
    for name in ("questions", "questions", "questions", "answers", "fallbacks", "clarify"):
        store.count(name, NOW)
    assert admin.unanswered(ADMIN, NOW).text == replies.ADMIN_NO_MISSES
    store.record_miss("bolehkah  ASN\njadi  timses?", "fallback", None, NOW)
    store.record_miss("like story caleg", "thumbs_down", "like_medsos", NOW)

    stats = admin.statistics(ADMIN, NOW).text
    assert "Pelanggan aktif: 3" in stats
    assert "Jawa Barat: 2" in stats and "pelanggan seluruh Indonesia: 1" in stats
    assert "Ikrar tercatat: 1" in stats
    assert "Pertanyaan: 3 (terjawab 1, klarifikasi 1, tak terjawab 1)" in stats
    assert "tak terjawab dan 👎: 2" in stats

    unanswered = admin.unanswered(ADMIN, NOW).text
    assert unanswered.index("like story caleg") < unanswered.index("bolehkah ASN jadi timses?")
    assert "[thumbs_down]" in unanswered and "22/11 10.00" in unanswered


def test_reload_keeps_the_old_knowledge_when_the_new_one_is_broken(
        admin: Admin, store: Store, kb: KnowledgeBase, changes: list[dt.datetime]) -> None:
    def broken() -> KnowledgeBase:
        raise KnowledgeError([Problem("knowledge/calendar.yaml", 12, "pemilu_2029", "stages",
                                      "start: not a date")] * 20)

    failed = admin.reload_knowledge(ADMIN, NOW, broken)
    assert "TIDAK dimuat ulang" in failed.text and "20 masalah" in failed.text
    assert "knowledge/calendar.yaml:12: pemilu_2029: stages: start: not a date" in failed.text
    assert "… +5" in failed.text
    assert changes == []
    ok = admin.reload_knowledge(ADMIN, NOW, lambda: kb)
    assert f"{len(kb.intents)} jawaban" in ok.text
    assert changes == [NOW]
    assert [e["action"] for e in store.audit_log(3)] == ["muatulang", "reload_failed",
                                                         "muatulang"]


def test_statuses_have_indonesian_labels() -> None:
    assert set(replies.BROADCAST_STATUS_LABELS) == set(BroadcastStatus)


def test_handle_routes_every_admin_command_by_name(admin: Admin, store: Store) -> None:
    assert admin.handle("siaranmendatang", "", ADMIN, NOW).text == replies.ADMIN_NO_UPCOMING
    assert "Sebutkan nomor" in admin.handle("batalsiaran", "", ADMIN, NOW).text
    preview = admin.handle("siaran", "2026-12-01 07:00\nHalo", ADMIN, NOW)
    assert [b.action.kind for b in preview.buttons] == [ActionKind.ADMIN_CONFIRM,
                                                        ActionKind.ADMIN_DISCARD]
    confirm(admin, preview)
    assert store.upcoming_broadcasts()[0].notify_chat == ADMIN  # reports go to the admin's chat
    assert admin.handle("admin", "", ADMIN, NOW).text == admin.help(ADMIN, NOW).text
    assert admin.handle("statistik", "", STRANGER, NOW).text == replies.ADMIN_REFUSED


def test_whatsapp_admins_are_recognised_by_number(store: Store, kb: KnowledgeBase) -> None:
    settings = Settings(admin_ids=frozenset({900}),
                        whatsapp_admin_numbers=frozenset({"6281234567890"}))
    admin = Admin(store, settings, lambda: kb)
    assert admin.is_admin(ChatRef.whatsapp("6281234567890"))
    assert not admin.is_admin(ChatRef.whatsapp("900"))  # ids of one channel mean nothing on another
    assert not admin.is_admin(ChatRef.telegram("6281234567890"))


def test_a_broadcast_sent_at_once_is_confirmed_with_kirim_sekarang(admin: Admin) -> None:
    now_preview = admin.draft_broadcast(ADMIN, CHAT, "sekarang\nHalo semua.", NOW)
    assert [b.label for b in now_preview.buttons] == [replies.ADMIN_CONFIRM_NOW_BUTTON,
                                                      replies.ADMIN_DISCARD_BUTTON]
    assert replies.ADMIN_CONFIRM_NOW_BUTTON == "✅ Ya, kirim sekarang"
    later = admin.draft_broadcast(ADMIN, CHAT, "1/12/2026 07.00\nHalo semua.", NOW)
    assert later.buttons[0].label == replies.ADMIN_CONFIRM_BUTTON


@pytest.mark.parametrize("now", [NOW, dt.datetime(2027, 2, 28, 18, 0, tzinfo=dt.UTC)])
def test_admin_help_examples_are_dated_tomorrow_and_list_the_regions(
        admin: Admin, kb: KnowledgeBase, now: dt.datetime) -> None:
    text = admin.help(ADMIN, now).text
    tomorrow = (now.astimezone(ZoneInfo("Asia/Jakarta")).date() + dt.timedelta(days=1))
    assert f"/siaran {tomorrow.isoformat()} 07:00 WIB wilayah=" in text
    assert all(region in text for region in kb.regions)
    example = text.split("Contoh:\n", 1)[1].split("\n", 2)
    reply = admin.draft_broadcast(ADMIN, CHAT, example[0].removeprefix("/siaran ") + "\n"
                                  + example[1], now)
    assert "Pratinjau" in reply.text  # the example itself is valid input, in the future


@pytest.mark.parametrize(("text", "expected"), [
    ("+5m", NOW + dt.timedelta(minutes=5)),
    ("+ 90 detik", NOW + dt.timedelta(seconds=90)),
    ("+2j", NOW + dt.timedelta(hours=2)),
    ("+30d", NOW + dt.timedelta(seconds=30)),
    ("2026-11-22 10:05:30", dt.datetime(2026, 11, 22, 3, 5, 30, tzinfo=dt.UTC)),
    ("22/11/2026 12.05.30 WITA", dt.datetime(2026, 11, 22, 4, 5, 30, tzinfo=dt.UTC)),
])
def test_times_to_the_second_or_relative_to_now(text: str, expected: dt.datetime) -> None:
    assert parse_when(text, WIB, NOW) == expected


def test_a_relative_time_schedules_a_broadcast(admin: Admin, store: Store) -> None:
    preview = admin.draft_broadcast(ADMIN, CHAT, "+5m\nRapat netralitas sebentar lagi.", NOW)
    assert "Pratinjau" in preview.text and "22 November 2026 pukul 10.05 WIB" in preview.text
    confirm(admin, preview)
    assert [b.send_at for b in store.upcoming_broadcasts()] == [NOW + dt.timedelta(minutes=5)]
    with pytest.raises(InputError):
        parse_when("+5 tahun", WIB, NOW)


def test_a_regional_preview_says_what_happens_to_seluruh_indonesia(admin: Admin,
                                                                  store: Store) -> None:
    store.subscribe(tg(1), "jabar", NOW)
    store.subscribe(tg(2), None, NOW)  # "Seluruh Indonesia"
    store.subscribe(tg(3), None, NOW)
    regional = admin.draft_broadcast(ADMIN, CHAT, "+5m wilayah=jabar\nHalo Jabar.", NOW)
    assert "1 pelanggan saat ini" in regional.text
    assert replies.ADMIN_PREVIEW_WITHOUT_ALL.format(count="2", example="jabar") in regional.text
    both = admin.draft_broadcast(ADMIN, CHAT, "+5m wilayah=jabar,indonesia\nHalo.", NOW)
    assert "3 pelanggan saat ini" in both.text and replies.ADMIN_PREVIEW_WITH_ALL in both.text
    confirm(admin, both)
    assert store.audience(store.upcoming_broadcasts()[0].regions) == [tg(1), tg(2), tg(3)]
    everyone = admin.draft_broadcast(ADMIN, CHAT, "+5m\nHalo semua.", NOW)
    assert "«Seluruh Indonesia»" not in everyone.text  # everyone means everyone


def test_kirimsekarang_recaps_text_and_audience_then_asks(admin: Admin, store: Store) -> None:
    store.subscribe(tg(1), "papua", NOW)
    confirm(admin, admin.draft_broadcast(ADMIN, CHAT, "2026-12-01 07:00 wilayah=papua\n"
                                         "Untuk rekan ASN di Papua.", NOW))
    (scheduled,) = store.upcoming_broadcasts()
    recap = admin.send_now(ADMIN, CHAT, str(scheduled.id), NOW)
    assert recap.text.startswith(replies.ADMIN_SEND_NOW_RECAP.format(id=scheduled.id))
    assert "Untuk rekan ASN di Papua." in recap.text and "Papua — 1 pelanggan" in recap.text
    assert [b.label for b in recap.buttons] == [replies.ADMIN_CONFIRM_NOW_BUTTON,
                                                replies.ADMIN_DISCARD_BUTTON]
    discard = next(b for b in recap.buttons if b.action.kind is ActionKind.ADMIN_DISCARD)
    assert admin.press(ADMIN, discard.action, NOW).text == replies.ADMIN_DRAFT_DISCARDED
    assert store.broadcast(scheduled.id).send_at == scheduled.send_at  # still as scheduled
    again = admin.send_now(ADMIN, CHAT, str(scheduled.id), NOW)
    admin.cancel(ADMIN, str(scheduled.id), NOW)  # cancelled between the recap and the tap
    assert "dibatalkan" in confirm(admin, again).text
