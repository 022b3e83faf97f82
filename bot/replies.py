"""Every Indonesian sentence the bot says that is not knowledge-base data, in one place."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from bot.markup import escape, to_plain
from bot.models import (
    MAX_MESSAGE_CHARS,
    Broadcast,
    BroadcastStatus,
    Channel,
    Facet,
    Intent,
    Pledge,
    Region,
    Source,
    Span,
    Verdict,
)
from bot.timetable import format_date

if TYPE_CHECKING:
    from bot.broadcasts import DeliveryReport

VERDICT_LABELS = {
    Verdict.BOLEH: "✅ BOLEH",
    Verdict.DILARANG: "⛔ DILARANG",
    Verdict.BERSYARAT: "⚠️ BERSYARAT (boleh dengan syarat)",
    Verdict.INFO: "ℹ️ INFO",
}

NONE_OF_THESE = "Bukan semuanya"
CLARIFY_PROMPT = "Maksud Anda yang mana? Pilih salah satu di bawah ini:"
NONE_OF_THESE_REPLY = (
    "Baik, maaf belum tepat. Coba tulis ulang pertanyaan Anda dengan kata lain "
    "(misalnya sebutkan kegiatannya: foto, like, kampanye, atribut, hadiah), "
    "atau pilih topik di bawah."
)
FALLBACK = (
    "Maaf, saya belum bisa menjawab pertanyaan itu dengan yakin. Tanya Netral khusus menjawab "
    "soal netralitas ASN (PNS dan PPPK) di Pemilu dan Pilkada.\n\n"
    "Coba tulis dengan kata lain atau pilih topik di bawah. Untuk hal lain, tanyakan ke "
    "BKPSDM/BKD instansi Anda, Bawaslu setempat, atau SP4N-LAPOR! (lapor.go.id)."
)
EMPTY_INPUT = (
    "Silakan ketik pertanyaan Anda tentang netralitas ASN, misalnya: "
    "\"Boleh nggak PNS foto bareng paslon?\""
)
TOO_LONG_NOTE = "(Pesan Anda panjang sekali; saya baca bagian awalnya saja.)"
OUT_OF_SCOPE = (
    "Maaf, pertanyaan itu di luar topik saya. Tanya Netral khusus menjawab soal netralitas ASN "
    "(PNS dan PPPK) di Pemilu dan Pilkada: foto dan pose, media sosial, kampanye, keluarga "
    "yang nyalon, sanksi, dan cara melapor.\n\n"
    "Untuk urusan kepegawaian (gaji, cuti, mutasi, seleksi CPNS/PPPK) tanyakan ke BKPSDM/BKD "
    "instansi Anda; untuk urusan pemilih (DPT, TPS) ke KPU setempat."
)
RULE_PREFIX = "Aturannya: "
VERDICT_WORDS = {
    Verdict.BOLEH: "boleh ✅",
    Verdict.DILARANG: "dilarang ⛔",
    Verdict.BERSYARAT: "boleh dengan syarat ⚠️",
    Verdict.INFO: "lihat penjelasan",
}
FACET_LEADS = {
    Facet.WHY: "Alasannya:",
    Facet.SANCTION: "Sanksinya:",
    Facet.BASIS: "Dasar aturannya:",
}
CAUTION_PREFIX = "⚠️ Catatan: "
BASIS_PREFIX = "⚖️ Dasar: "
SANCTION_PREFIX = "🔨 Sanksi: "
SOURCES_PREFIX = "📚 Sumber: "
TOPIC_MENU = "Pilih topik yang ingin Anda ketahui:"
ALL_TOPICS = "📚 Semua topik"
TOPIC_HEADER = "Topik: {title}\nPilih pertanyaan:"
UNKNOWN_TOPIC = "Topik itu tidak ditemukan. Silakan pilih dari menu topik."
UNKNOWN_INTENT = "Maaf, jawaban itu sudah tidak tersedia. Silakan pilih dari menu topik."
SCHEDULE_UPCOMING = "🗓️ Tahapan pemilu yang akan datang:"
SCHEDULE_NONE = (
    "🗓️ Belum ada tahapan pemilu mendatang di kalender kami. Jadwal pemilu berikutnya "
    "belum ditetapkan; pantau pengumuman resmi KPU. Tahapan terakhir yang tercatat:"
)
SCHEDULE_FOOTER = "Netralitas ASN berlaku sebelum, selama, dan sesudah tahapan pemilu."
# Calendar-dependent sentences: intent answers name them as {placeholders} (see
# knowledge/README.md); they are filled from knowledge/calendar.yaml on the day of the reply.
NOW_RUNNING = "Saat ini ({today}) sedang berjalan: {stages}."
NOW_IN_PROGRESS = "Saat ini ({today}) tahapan {elections} sedang berjalan."
NOW_NONE = "Saat ini ({today}) tidak ada tahapan pemilu atau pilkada yang sedang berjalan."
NEXT_STAGE = "Tahapan berikutnya di kalender kami: {stage}."
NEXT_NONE = ("Belum ada tahapan berikutnya yang ditetapkan di kalender kami; pantau pengumuman "
             "resmi KPU.")
REPORT_IN_PROGRESS = ("Saat ini ({today}) tahapan {elections} sedang berjalan, jadi laporkan "
                      "pelanggaran ke Bawaslu (paling lambat 7 hari sejak diketahui).")
REPORT_BETWEEN = ("Saat ini ({today}) tidak ada tahapan pemilu yang berjalan, jadi aduan "
                  "netralitas ASN diajukan ke BKN atau PPK/BKPSDM instansinya, bukan ke Bawaslu.")


# Short answers: answers longer than LONG_ANSWER_CHARS are shown first as their verdict, the
# condition's lead, the explanation's first sentences (up to BRIEF_SENTENCES, within
# BRIEF_CHARS) and the caution in one line, with MORE_BUTTON for the whole answer.
LONG_ANSWER_CHARS = 500
BRIEF_SENTENCES = 3
BRIEF_CHARS = 400
CAUTION_LINE_CHARS = 140
MORE_BUTTON = "📖 Selengkapnya"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“(]?[A-Z])|\s*\n\s*")

Styled = tuple[str, tuple[Span, ...]]  # a text and its bold spans


def _styled(paragraphs: Iterable[tuple[str, str]]) -> Styled:
    """Join (bold part, rest) paragraphs with blank lines; return the text and the bold spans."""
    text, bold = "", []
    for strong, rest in paragraphs:
        if text:
            text += "\n\n"
        if strong:
            bold.append((len(text), len(text) + len(strong.rstrip())))
        text += strong + rest
    return text, tuple(bold)


def _verdict_line(intent: Intent, verdict: Verdict | None) -> tuple[str, str]:
    label = VERDICT_LABELS[verdict] if verdict else "ℹ️"
    return f"{label} — {intent.title}", ""


def render_answer(intent: Intent, sources: Iterable[Source], verdict: Verdict | None = None,
                  lead: str | None = None) -> Styled:
    """Render an answer: verdict first, then explanation, caution, basis, sanction, sources.

    `verdict` overrides the intent's (a broken condition), with `lead` said first. The verdict
    line and the section labels are bold.
    """
    parts = [_verdict_line(intent, verdict or intent.verdict), *([("", lead)] if lead else []),
             ("", intent.answer)]
    return _styled(parts + _details(intent, sources, sanction=True))


def render_brief(intent: Intent, verdict: Verdict | None = None, lead: str | None = None) -> Styled:
    """The short form of an answer: verdict, lead, the first sentences, the caution's first."""
    parts = [_verdict_line(intent, verdict or intent.verdict), *([("", lead)] if lead else []),
             ("", first_sentences(intent.answer, BRIEF_SENTENCES, BRIEF_CHARS))]
    return _styled(parts + _caution_line(intent))


def render_facet_brief(intent: Intent, facet: Facet, facet_text: str | None, rule: Verdict,
                       lead: str | None = None) -> Styled:
    """The short form of a facet answer: the facet's first sentences, the rule in one sentence,
    the caution's first."""
    parts = [_verdict_line(intent, Verdict.INFO),
             *([(f"{FACET_LEADS[facet]} ", first_sentences(facet_text, BRIEF_SENTENCES,
                                                           BRIEF_CHARS))] if facet_text else []),
             (RULE_PREFIX, f"{VERDICT_WORDS[rule]}. "
                           + first_sentences(lead or intent.answer, 1 if facet_text else
                                             BRIEF_SENTENCES, BRIEF_CHARS))]
    return _styled(parts + _caution_line(intent))


def _caution_line(intent: Intent) -> list[tuple[str, str]]:
    """A short form's caution: a disputed rule says so up front, never only behind the button."""
    if not intent.caution:
        return []
    return [(CAUTION_PREFIX, first_sentences(intent.caution, 1, CAUTION_LINE_CHARS))]


def first_sentences(text: str, count: int, limit: int) -> str:
    """The first sentences of `text` (at least one, at most `count`, within `limit` characters
    after the first); a first sentence longer than `limit` is cut at a word, with "…"."""
    ends = [m.start() for m in _SENTENCE_END.finditer(text)] + [len(text)]
    cut = ends[0]
    for end in ends[1:count]:
        if end > limit:
            break
        cut = end
    if cut > limit:
        return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return text[:cut].rstrip()


def render_facet(intent: Intent, sources: Iterable[Source], facet: Facet,
                 facet_text: str | None, rule: Verdict, lead: str | None = None) -> Styled:
    """Answer a why/sanction/basis question about a rule: the facet first, the rule after."""
    parts = [_verdict_line(intent, Verdict.INFO),
             *([(f"{FACET_LEADS[facet]} ", facet_text)] if facet_text else []),
             (RULE_PREFIX, f"{VERDICT_WORDS[rule]}. {lead or intent.answer}")]
    return _styled(parts + _details(intent, sources, sanction=facet is not Facet.SANCTION))


def _details(intent: Intent, sources: Iterable[Source], sanction: bool) -> list[tuple[str, str]]:
    parts = []
    if intent.caution:
        parts.append((CAUTION_PREFIX, intent.caution))
    if intent.basis:
        parts.append((BASIS_PREFIX, "; ".join(intent.basis)))
    if sanction and intent.sanction:
        parts.append((SANCTION_PREFIX, intent.sanction))
    shorts = [s.short for s in sources]
    if shorts:
        parts.append((SOURCES_PREFIX, "; ".join(shorts)))
    return parts


def render_stage(election: str, stage: str, start: str, end: str) -> str:
    """One line of the schedule."""
    when = start if start == end else f"{start} – {end}"
    return f"• {election}: {stage}, {when}"


def render_pledge(pledge: Pledge) -> str:
    """Render the pledge text as a numbered list."""
    points = "\n".join(f"{n}. {point}" for n, point in enumerate(pledge.points, start=1))
    return "\n\n".join(p for p in (f"📜 {pledge.title}", pledge.intro, points, pledge.closing) if p)


# -- Telegram channel -------------------------------------------------------------------------
# (Used by bot/services.py and bot/channels/telegram.py; the commands are named in telegram.py.)
TG_COMMAND_MENU = {
    "mulai": "Mulai dan perkenalan",
    "topik": "Pilih pertanyaan per topik",
    "ikrar": "Ikrar netralitas ASN",
    "lapor": "Cara melapor pelanggaran",
    "jadwal": "Jadwal tahapan pemilu",
    "langganan": "Pengingat jadwal per provinsi",
    "berhenti": "Hentikan pengingat",
    "hapusdata": "Hapus data saya",
    "tentang": "Sumber dan tanggal tinjauan",
    "bantuan": "Daftar perintah",
}
TG_WELCOME = (
    "Halo! 👋 Saya Tanya Netral, asisten tanya jawab netralitas ASN (PNS dan PPPK) di Pemilu "
    "dan Pilkada.\n\n"
    "Ketik saja pertanyaan Anda, misalnya \"Boleh nggak PNS foto bareng paslon?\", atau pilih:\n"
    "/topik — pertanyaan per topik\n"
    "/ikrar — ikrar netralitas\n"
    "/lapor — cara melapor pelanggaran\n"
    "/jadwal — jadwal tahapan pemilu\n"
    "/langganan — pengingat jadwal\n"
    "/bantuan — semua perintah\n\n"
    "ℹ️ Jawaban saya adalah informasi umum, bukan keputusan hukum. Untuk kasus Anda sendiri, "
    "pastikan ke BKPSDM/BKD instansi atau Bawaslu setempat."
)
TG_HELP_HEADER = "Yang bisa saya bantu:"
TG_HELP_FOOTER = (
    "Atau langsung ketik pertanyaan Anda. Di grup, sebut saya (@{username}) atau balas pesan "
    "saya.\n\nℹ️ Informasi umum, bukan keputusan hukum."
)
TG_NON_TEXT = (
    "Maaf, saya hanya bisa membaca teks. 🙏 Silakan ketik pertanyaan Anda, misalnya "
    "\"Boleh nggak PNS like postingan caleg?\""
)
TG_SLOW_DOWN = (
    "Pelan-pelan ya 🙏 Pesan Anda banyak sekali dalam semenit. Tunggu sebentar, lalu kirim lagi "
    "pertanyaan Anda."
)
TG_ERROR = "Maaf, terjadi kesalahan di sisi kami. 🙏 Silakan coba lagi sebentar lagi."
TG_STALE_BUTTON = "Tombol ini sudah tidak berlaku. Silakan ketik /topik atau tulis pertanyaan Anda."
TG_UNKNOWN_COMMAND = (
    "Perintah itu tidak saya kenal. Ketik /bantuan untuk daftar perintah, atau langsung tulis "
    "pertanyaan Anda."
)
TG_FEEDBACK_UP = "👍 Membantu"
TG_FEEDBACK_DOWN = "👎 Kurang tepat"
TG_FEEDBACK_THANKS = "Terima kasih! 🙏"
TG_FEEDBACK_NOTED = "Terima kasih, masukan Anda kami catat untuk perbaikan."
TG_PLEDGE_BUTTON = "✍️ Saya berikrar"
TG_PLEDGE_RECORDED = (
    "✅ Terima kasih! Ikrar netralitas Anda tercatat pada {when}. Tetap netral, tetap melayani."
)
TG_PLEDGE_ALREADY = (
    "Ikrar Anda sudah tercatat sebelumnya pada {when}. Terima kasih, tetap netral! 🙏"
)
TG_SUBSCRIBE_PROMPT = (
    "🔔 Pilih provinsi Anda untuk menerima pengingat tahapan pemilu dan netralitas ASN:"
)
TG_ALL_REGIONS = "🇮🇩 Seluruh Indonesia"
TG_ALL_REGIONS_NAME = "seluruh Indonesia"
TG_SUBSCRIBED = (
    "🔔 Langganan aktif untuk {region}. Saya akan mengirim pengingat menjelang tahapan penting. "
    "Berhenti kapan saja dengan /berhenti."
)
TG_UNKNOWN_REGION = "Wilayah itu tidak dikenal. Silakan pilih lagi lewat /langganan."
TG_UNSUBSCRIBED = "🔕 Pengingat dihentikan. Aktifkan lagi kapan saja dengan /langganan."
TG_NOT_SUBSCRIBED = "Anda belum berlangganan pengingat. Ketik /langganan untuk mulai."
TG_DELETE_CONFIRM = (
    "Hapus semua data Anda di Tanya Netral? Yang akan dihapus:\n"
    "• langganan pengingat dan wilayah pilihan Anda\n"
    "• waktu ikrar digital Anda\n"
    "• penilaian 👍/👎 Anda\n"
    "• teks pertanyaan Anda yang tidak terjawab atau Anda nilai 👎\n"
    "• catatan pengiriman pengingat ke Anda\n"
    "• percobaan perintah admin Anda yang ditolak\n\n"
    "Tindakan ini tidak bisa dibatalkan."
)
TG_YOUR_ID = (
    "ID Telegram Anda: {user_id}\n"
    "Pengelola bot memerlukan angka ini untuk memberi Anda akses admin."
)
TG_DELETE_YES = "🗑️ Ya, hapus"
TG_DELETE_NO = "Batal"
TG_DELETED = "✅ Data Anda sudah dihapus. Anda tetap bisa bertanya kapan saja."
TG_DELETE_CANCELLED = "Baik, data Anda tidak dihapus."
TG_ABOUT_HEADER = (
    "ℹ️ Tentang Tanya Netral\n\n"
    "Jawaban disusun dari peraturan dan pemberitaan resmi tentang netralitas ASN. Ini informasi "
    "umum, bukan keputusan hukum."
)
TG_ABOUT_SOURCES = "📚 Sumber ({count}):"
TG_ABOUT_REVIEWED = "🗓️ Terakhir ditinjau: {date}"
TG_ABOUT_NOT_REVIEWED = "🗓️ Tanggal tinjauan belum tercatat."
TG_ABOUT_OTHER = "Lainnya"
TG_ABOUT_COUNTED = "Juga: {kinds}. Setiap jawaban menyebut sumbernya sendiri."
_ABOUT_LISTED = ("regulation", "decision")
_SOURCE_KIND_LABELS = {
    "regulation": "Peraturan",
    "decision": "Putusan",
    "statement": "Pernyataan resmi",
    "service": "Layanan resmi",
    "article": "Berita",
}


def format_local_time(moment: dt.datetime, tz: dt.tzinfo) -> str:
    """Format an aware datetime in local time: 22 November 2026 pukul 14.05 WIB."""
    local = moment.astimezone(tz)
    return f"{format_date(local.date())} pukul {local:%H.%M} {local.tzname()}"


def render_about(sources: Iterable[Source], reviewed: dt.date | None) -> str:
    """Render /tentang: what the bot is, its sources grouped by kind, the last review date."""
    sources = list(sources)
    groups: dict[str, list[str]] = {}
    for source in sources:
        groups.setdefault(source.kind, []).append(source.short)
    lines = [TG_ABOUT_HEADER, TG_ABOUT_SOURCES.format(count=len(sources))]
    kinds = [*_SOURCE_KIND_LABELS, *(k for k in groups if k not in _SOURCE_KIND_LABELS)]
    counted = []
    for kind in kinds:
        if kind in groups:
            label = _SOURCE_KIND_LABELS.get(kind, TG_ABOUT_OTHER)
            if kind in _ABOUT_LISTED:  # the legal basis in full; the rest would fill pages
                lines.append(f"{label}:\n" + "\n".join(f"• {s}" for s in groups[kind]))
            else:
                counted.append(f"{label} {len(groups[kind])}")
    if counted:
        lines.append(TG_ABOUT_COUNTED.format(kinds=", ".join(counted)))
    lines.append(TG_ABOUT_REVIEWED.format(date=format_date(reviewed)) if reviewed
                 else TG_ABOUT_NOT_REVIEWED)
    return "\n\n".join(lines)


def render_help(commands: Iterable[str], username: str) -> str:
    """Render /bantuan: one line per menu command, then how to ask (also in groups)."""
    lines = "\n".join(f"/{name} — {TG_COMMAND_MENU[name]}" for name in commands)
    return f"{TG_HELP_HEADER}\n{lines}\n\n{TG_HELP_FOOTER.format(username=username)}"


# -- Channels without a command menu (WhatsApp, console): commands as words -------------------
WA_WELCOME = (
    "Halo! 👋 Saya Tanya Netral, asisten tanya jawab netralitas ASN (PNS dan PPPK) di Pemilu "
    "dan Pilkada.\n\n"
    "Ketik saja pertanyaan Anda, misalnya \"Boleh nggak PNS foto bareng paslon?\", atau ketik:\n"
    "*topik* — pertanyaan per topik\n"
    "*ikrar* — ikrar netralitas\n"
    "*lapor* — cara melapor pelanggaran\n"
    "*jadwal* — jadwal tahapan pemilu\n"
    "*langganan* — pengingat jadwal\n"
    "*bantuan* — semua perintah\n\n"
    "ℹ️ Jawaban saya adalah informasi umum, bukan keputusan hukum. Untuk kasus Anda sendiri, "
    "pastikan ke BKPSDM/BKD instansi atau Bawaslu setempat."
)
WA_HELP = (
    "Yang bisa saya bantu (ketik kata di depannya):\n"
    "*menu* — perkenalan\n"
    "*topik* — pertanyaan per topik\n"
    "*ikrar* — ikrar netralitas ASN\n"
    "*lapor* — cara melapor pelanggaran\n"
    "*jadwal* — jadwal tahapan pemilu\n"
    "*langganan* — pengingat jadwal per provinsi\n"
    "*berhenti* (atau STOP) — hentikan pengingat\n"
    "*hapus data* — hapus data saya\n"
    "*tentang* — sumber dan tanggal tinjauan\n\n"
    "Atau langsung ketik pertanyaan Anda.\n\nℹ️ Informasi umum, bukan keputusan hukum."
)
WA_CHOOSE = "Pilih"            # the button that opens a list message (at most 20 characters)
WA_OPTIONS = "Pilihan"         # the list's section title (at most 24 characters)
WA_CHOOSE_PROMPT = "Pilih salah satu di bawah ini, atau ketik pertanyaan lain:"
WA_MORE_CHOICES = "Pilihan lainnya ({page}/{pages}):"
WA_NON_TEXT = (
    "Maaf, saya hanya bisa membaca teks. 🙏 Silakan ketik pertanyaan Anda, misalnya "
    "\"Boleh nggak PNS like postingan caleg?\""
)


# Private-chat-only commands and buttons in a group. TG_PRIVATE_ONLY is also a callback answer:
# keep it under Telegram's 200 characters.
TG_PRIVATE_ONLY = (
    "Maaf, ini hanya bisa di chat pribadi dengan saya. 🙏 Buka @{username} lalu ketik "
    "perintahnya di sana."
)
TG_PLEDGE_PRIVATE_ONLY = (
    "✍️ Untuk mencatat ikrar Anda, buka chat pribadi dengan @{username} lalu ketik /ikrar."
)


# -- Broadcasts and admin -----------------------------------------------------------------------
# (Used by bot/admin.py and bot/scheduler.py; the channel only sends these texts.)
ADMIN_REFUSED = (
    "Maaf, perintah ini khusus admin Tanya Netral. 🙏 Silakan ajukan pertanyaan Anda tentang "
    "netralitas ASN seperti biasa."
)
ADMIN_HELP = (
    "🛠️ Perintah admin\n\n"
    "/siaran <tanggal> <jam> [WIB|WITA|WIT] [wilayah=jabar,dki] — jadwalkan siaran; teksnya di "
    "baris berikutnya (atau setelah tanda |). Contoh:\n"
    "/siaran {example_date} 07:00 {tz} wilayah={example_region}\n"
    "Selamat pagi, rekan ASN …\n"
    "Waktu boleh ditulis 1/12/2026 07.00, 1 Desember 2026 07.00 atau sampai detik "
    "(07:00:30); tanpa zona berarti {tz}. Dari sekarang: +5m (menit), +2j (jam), +30d (detik). "
    "Tulis «sekarang» untuk kirim segera.\n"
    "Ulang: ulang=senin (tiap Senin), ulang=harian, ulang=3hari, dengan sampai=<tanggal> atau "
    "tahap=<pemilu>/<tahap> (misalnya tahap=pilkada_2024/kampanye).\n"
    "Kode wilayah: {regions}; «indonesia» = pelanggan «Seluruh Indonesia» (siaran wilayah "
    "tidak sampai ke mereka tanpa kode ini).\n"
    "Format teks: <b>tebal</b>, <i>miring</i>, <u>garis bawah</u>, <s>coret</s>, "
    "<code>kode</code>, <a href=\"https://…\">tautan</a>.\n\n"
    "/siaranmendatang — daftar siaran terjadwal\n"
    "/batalsiaran <nomor> — batalkan siaran (dan sisa serinya)\n"
    "/kirimsekarang <nomor> — kirim siaran terjadwal sekarang\n"
    "/progres [nomor] — kemajuan dan hasil siaran\n"
    "/statistik — pelanggan, ikrar, pertanyaan\n"
    "/takterjawab — pertanyaan terbaru yang belum terjawab\n"
    "/ajarkan <nomor> <id_intent|luar|abaikan> — jadikan pertanyaan itu contoh sebuah topik\n"
    "/muatulang — muat ulang basis pengetahuan"
)
ADMIN_BAD_DATE = (
    "Tanggal dan jam tidak terbaca: «{value}». Tulis seperti 2026-12-01 07:00 atau "
    "1/12/2026 07.00, boleh diakhiri WIB, WITA atau WIT; atau +5m (5 menit dari sekarang)."
)
ADMIN_NO_SUCH_DATE = "Tanggal «{value}» tidak ada di kalender. Periksa lagi tanggal dan bulannya."
ADMIN_PAST = (
    "Waktu {when} sudah lewat (sekarang {now}). Pilih waktu yang akan datang, atau tulis "
    "«sekarang» untuk kirim segera."
)
ADMIN_EMPTY_TEXT = (
    "Teks siaran kosong. Tulis tanggal dan jam di baris pertama, lalu teks siarannya di baris "
    "berikutnya (atau setelah tanda |)."
)
ADMIN_MARKUP_TAGS = ("<b>tebal</b>, <i>miring</i>, <u>garis bawah</u>, <s>coret</s>, "
                     "<code>kode</code> dan <a href=\"https://…\">tautan</a>")
ADMIN_MARKUP_PROBLEMS = {  # by bot.markup.Problem.kind; {tag} is the tag's name
    "unknown": ("Format teks siaran belum benar: tag «<{tag}>» tidak dikenal. Yang bisa dipakai: "
                f"{ADMIN_MARKUP_TAGS}. Untuk menulis tanda < apa adanya, ketik &lt;."),
    "attributes": ("Format teks siaran belum benar: «<{tag}>» tidak boleh berisi atribut; hanya "
                   "tautan memakai href, misalnya <a href=\"https://bkn.go.id\">BKN</a>."),
    "link": ("Format teks siaran belum benar: tautan «<a>» perlu alamat http:// atau https://, "
             "misalnya <a href=\"https://bkn.go.id\">BKN</a>."),
    "unclosed": ("Format teks siaran belum benar: «<{tag}>» dibuka tetapi tidak ditutup. "
                 "Tambahkan «</{tag}>» di akhir bagian yang diformat."),
    "unopened": ("Format teks siaran belum benar: «</{tag}>» menutup tag yang tidak sedang "
                 "terbuka. Pastikan setiap tag ditutup berurutan, misalnya <b><i>…</i></b>."),
}
ADMIN_TOO_LONG = (
    "Teks siaran {length} karakter, padahal batasnya {limit}. Pendekkan sedikitnya "
    "{excess} karakter."
)
ADMIN_UNKNOWN_REGION = (
    "Wilayah tidak dikenal: {unknown}. Gunakan kode wilayah, dipisah koma, atau «semua». "
    "Pilihan: {choices}."
)
ADMIN_UNKNOWN_OPTION = (
    "Pilihan «{option}» tidak dikenal. Yang bisa dipakai: wilayah=, ulang=, sampai=, tahap=."
)
ADMIN_BAD_REPEAT = (
    "Ulang «{value}» tidak dikenal. Tulis nama hari (ulang=senin), ulang=harian, "
    "ulang=mingguan, atau ulang=3hari."
)
ADMIN_REPEAT_NEEDS_END = (
    "Siaran berulang perlu batas akhir: tambahkan sampai=<tanggal> atau tahap=<pemilu>/<tahap>."
)
ADMIN_UNKNOWN_STAGE = (
    "Tahap «{value}» tidak ada di kalender. Tulis tahap=<pemilu>/<tahap>, misalnya "
    "tahap=pilkada_2024/kampanye."
)
ADMIN_STAGE_OVER = "Tahap «{value}» sudah berakhir pada {end}; tidak ada lagi waktu kirim."
ADMIN_END_BEFORE_START = "Tanggal sampai= ({until}) lebih awal dari kiriman pertama ({first})."
ADMIN_TOO_MANY = (
    "Seri ini akan berisi lebih dari {limit} kiriman. Perjarang ulangnya atau majukan tanggal "
    "sampai=."
)
ADMIN_NO_SUBSCRIBERS = (
    "⚠️ Saat ini belum ada pelanggan di wilayah itu; siaran tetap bisa dijadwalkan."
)
ADMIN_PREVIEW_HEADER = "📣 Pratinjau siaran"
ADMIN_PREVIEW_WHEN = "🕖 Waktu: {when}"
ADMIN_PREVIEW_NOW = "🕖 Waktu: sekarang, segera setelah dikonfirmasi"
ADMIN_PREVIEW_REPEAT = "🔁 Ulang: {count} kali, {first} s.d. {last}"
ADMIN_PREVIEW_AUDIENCE = "👥 Penerima: {audience} — {count} pelanggan saat ini"
ADMIN_PREVIEW_CONFIRM = "Kirim sesuai pratinjau ini?"
ADMIN_PREVIEW_WITHOUT_ALL = (
    "ℹ️ {count} pelanggan «Seluruh Indonesia» tidak menerima siaran wilayah ini. Agar mereka "
    "ikut, tambahkan «indonesia» ke wilayah= (misalnya wilayah={example},indonesia)."
)
ADMIN_PREVIEW_WITH_ALL = "ℹ️ Termasuk pelanggan «Seluruh Indonesia»."
ADMIN_CONFIRM_BUTTON = "✅ Ya, jadwalkan"
ADMIN_CONFIRM_NOW_BUTTON = "✅ Ya, kirim sekarang"
ADMIN_DISCARD_BUTTON = "✖️ Batal"
ADMIN_DRAFT_EXPIRED = (
    "Pratinjau ini sudah tidak berlaku (kedaluwarsa atau sudah diproses). Kirim ulang perintah "
    "/siaran."
)
ADMIN_DRAFT_DISCARDED = "Baik, siaran tidak jadi dibuat."
ADMIN_SCHEDULED = (
    "✅ Siaran #{id} dijadwalkan {when} untuk {audience}. Batalkan dengan /batalsiaran {id}."
)
ADMIN_SCHEDULED_SERIES = (
    "✅ Seri siaran #{id} dijadwalkan: {count} kiriman, {first} s.d. {last}, untuk {audience}. "
    "Batalkan semuanya dengan /batalsiaran {id}."
)
ADMIN_SEND_NOW_RECAP = "Kirim siaran #{id} sekarang, tidak menunggu jadwalnya?"
ADMIN_STARTED = "🚀 Siaran #{id} mulai dikirim. Kemajuannya saya laporkan di sini."
ADMIN_NEED_ID = "Sebutkan nomor siaran, misalnya /{command} 12. Lihat nomornya di /siaranmendatang."
ADMIN_NOT_FOUND = "Siaran #{id} tidak ditemukan."
ADMIN_CANNOT_CANCEL = "Siaran #{id} sudah {status}; tidak ada yang bisa dibatalkan."
ADMIN_CANCELLED = "🛑 Siaran #{id} dibatalkan."
ADMIN_CANCELLED_SERIES = (
    "🛑 Dibatalkan: siaran #{id} dan {more} kiriman lain dari seri yang sama yang belum terkirim."
)
ADMIN_CANNOT_SEND_NOW = (
    "Siaran #{id} sudah {status}; hanya siaran terjadwal yang bisa dikirim sekarang."
)
ADMIN_NO_UPCOMING = "Belum ada siaran terjadwal."
ADMIN_UPCOMING_HEADER = "🗓️ Siaran terjadwal ({count}):"
ADMIN_NO_BROADCASTS = "Belum ada siaran yang pernah dikirim."
ADMIN_NO_MISSES = "Belum ada pertanyaan yang tak terjawab. 👍"
ADMIN_MISSES_HEADER = "❓ Pertanyaan terbaru yang belum terjawab ({count}):"
ADMIN_MISS_SUGGESTED = "   ↳ mungkin: {intents}"
ADMIN_LEARN_HINT = ("Ajarkan ke bot: ketuk nomornya di bawah, atau /ajarkan <nomor> "
                    "<id_intent>, «luar» (di luar topik) atau «abaikan».")
ADMIN_MISS_BUTTON = "🎓 #{n}"
ADMIN_MISS_CHOOSE = "❓ #{n}: «{text}»\nIni pertanyaan tentang apa?"
ADMIN_MISS_OUT_OF_SCOPE = "🚫 Luar topik"
ADMIN_MISS_IGNORE = "🗑️ Abaikan"
ADMIN_MISS_GONE = "Pertanyaan #{n} sudah tidak ada di daftar (sudah diajarkan atau diabaikan)."
ADMIN_LEARN_UNKNOWN_INTENT = "intent «{intent}» tidak dikenal"
ADMIN_LEARN_USAGE = ("Format: /ajarkan <nomor> <id_intent|luar|abaikan>, nomor dari "
                     "/takterjawab.")
ADMIN_LEARN_FAILED = "Belum bisa ditambahkan: {reason}."
ADMIN_LEARN_IGNORED = "Pertanyaan #{n} diabaikan dan dihapus dari daftar."
ADMIN_LEARNED = ("✅ Pertanyaan #{n} ditambahkan ke knowledge/learned.yaml sebagai contoh "
                 "«{intent}» (tanpa nama penanya). Ketik /muatulang untuk memakainya, dan "
                 "simpan file itu di git.")
ADMIN_STATS = (
    "📊 Statistik Tanya Netral\n\n"
    "👥 Pelanggan aktif: {subscribers}\n{regions}\n\n"
    "✍️ Ikrar tercatat: {pledges}\n"
    "💬 Pertanyaan: {questions} (terjawab {answers}, klarifikasi {clarify}, "
    "tak terjawab {fallbacks})\n"
    "❓ Catatan tak terjawab dan 👎: {misses}\n"
    "📣 Siaran: {broadcasts}"
)
ADMIN_STATS_NO_REGIONS = "(belum ada pelanggan)"
ADMIN_RELOADED = (
    "✅ Basis pengetahuan dimuat ulang: {intents} jawaban, {regions} wilayah, {elections} pemilu "
    "di kalender. Pengingat kalender diperbarui."
)
ADMIN_RELOAD_FAILED = (
    "❌ Basis pengetahuan TIDAK dimuat ulang; versi lama tetap berjalan. Perbaiki {count} "
    "masalah berikut lalu coba lagi:\n{problems}"
)
BROADCAST_RESUMED = (
    "🔄 Siaran #{id} sempat terputus (bot berhenti saat mengirim) dan kini dilanjutkan. Yang "
    "sudah terkirim tidak dikirim ulang; paling banyak {repeat} penerima mungkin menerimanya "
    "dua kali."
)
BROADCAST_MISSED = (
    "⚠️ Siaran terlewat (bot tidak aktif saat jadwalnya, lewat dari batas {grace} menit) dan "
    "tidak dikirim:\n{items}\nJadwalkan ulang dengan /siaran bila masih perlu."
)
BROADCAST_PROGRESS = (
    "📣 Siaran #{id}: {state}\n"
    "{bar} {percent}% ({done} dari {total})\n"
    "✅ terkirim {sent} · ⏳ menunggu {pending} · ❌ gagal {failed} · 🚫 memblokir {blocked}\n"
    "⏱️ waktu kirim {elapsed}{eta}"
)
BROADCAST_ETA = " · selesai kira-kira {eta} lagi"
PROGRESS_CELLS = 10
# Every broadcast copy: who sends it and why on top, how to stop at the bottom (plain text;
# a channel that formats messages escapes it).
BROADCAST_REASON = "Pengingat netralitas ASN"
_HEADER_TAIL = f" · {BROADCAST_REASON}"
BROADCAST_HEADER = "📣 {sender}" + _HEADER_TAIL
BROADCAST_STOP = {
    Channel.TELEGRAM: "Ketik /berhenti untuk berhenti berlangganan.",
    Channel.WHATSAPP: "Ketik BERHENTI untuk berhenti berlangganan.",
    Channel.CONSOLE: "Ketik /berhenti untuk berhenti berlangganan.",
}
BROADCAST_STATUS_LABELS = {
    BroadcastStatus.SCHEDULED: "terjadwal",
    BroadcastStatus.SENDING: "sedang dikirim",
    BroadcastStatus.DONE: "selesai",
    BroadcastStatus.CANCELLED: "dibatalkan",
    BroadcastStatus.MISSED: "terlewat",
}
ALL_SUBSCRIBERS = "semua pelanggan"
NO_REGION_SUBSCRIBERS = "pelanggan seluruh Indonesia"
_PREVIEW_RULE = "—" * 12
_SNIPPET_CHARS = 60


def format_number(value: int) -> str:
    """Format a count the Indonesian way: 4.096."""
    return f"{value:,}".replace(",", ".")


def render_audience(regions: tuple[str | None, ...] | None, known: Mapping[str, Region]) -> str:
    """Name a broadcast's audience: all subscribers, or its regions by name."""
    if regions is None:
        return ALL_SUBSCRIBERS
    names = [NO_REGION_SUBSCRIBERS if r is None else known[r].name if r in known else r
             for r in regions]
    return ", ".join(names) if len(names) <= 6 else f"{', '.join(names[:6])} +{len(names) - 6}"


def render_preview(text: str, when: str | None, repeat: tuple[str, str, int] | None,
                   audience: str, subscribers: int, all_note: str | None = None) -> str:
    """The confirmation preview of a new broadcast: when, repetition, audience, then the text.

    `all_note` says, for a regional broadcast, what happens to "Seluruh Indonesia" subscribers.
    """
    lines = [ADMIN_PREVIEW_HEADER,
             ADMIN_PREVIEW_WHEN.format(when=when) if when else ADMIN_PREVIEW_NOW]
    if repeat:
        first, last, count = repeat
        lines.append(ADMIN_PREVIEW_REPEAT.format(count=count, first=first, last=last))
    lines.append(ADMIN_PREVIEW_AUDIENCE.format(audience=audience,
                                               count=format_number(subscribers)))
    if all_note:
        lines.append(all_note)
    if not subscribers:
        lines.append(ADMIN_NO_SUBSCRIBERS)
    return "\n".join([*lines, _PREVIEW_RULE, text, _PREVIEW_RULE, ADMIN_PREVIEW_CONFIRM])


def render_broadcast_line(broadcast: Broadcast, tz: dt.tzinfo, audience: str) -> str:
    """One broadcast in a list: number, time, audience, origin and the start of its text."""
    text = " ".join(to_plain(broadcast.text).split())
    snippet = text if len(text) <= _SNIPPET_CHARS else text[:_SNIPPET_CHARS - 1] + "…"
    series = f" (seri #{broadcast.series})" if broadcast.series else ""
    origin = "kalender" if broadcast.origin == "calendar" else "admin"
    return (f"#{broadcast.id}{series} · {format_local_time(broadcast.send_at, tz)} · {audience} · "
            f"{origin} · «{snippet}»")


def render_elapsed(elapsed: dt.timedelta) -> str:
    """A duration as '1 jam 2 menit 3 detik'."""
    seconds = int(elapsed.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} jam" if hours else "", f"{minutes} menit" if minutes else "",
             f"{secs} detik" if secs or not (hours or minutes) else ""]
    return " ".join(p for p in parts if p)


def render_bar(done: int, total: int) -> tuple[str, int]:
    """A text progress bar of `PROGRESS_CELLS` cells and the whole percent done."""
    share = done / total if total else 0.0
    filled = min(PROGRESS_CELLS, int(share * PROGRESS_CELLS))
    return "▰" * filled + "▱" * (PROGRESS_CELLS - filled), int(share * 100)


def render_report(broadcast: Broadcast, report: DeliveryReport) -> str:
    """Progress or result of a broadcast for the admin: bar, counts, sending time, ETA."""
    bar, percent = render_bar(report.done, report.total)
    eta = BROADCAST_ETA.format(eta=render_elapsed(report.eta)) if report.eta else ""
    return BROADCAST_PROGRESS.format(
        id=broadcast.id, state=BROADCAST_STATUS_LABELS[report.status], bar=bar,
        percent=percent, done=format_number(report.done), total=format_number(report.total),
        sent=format_number(report.sent), pending=format_number(report.pending),
        failed=format_number(report.failed), blocked=format_number(report.blocked),
        elapsed=render_elapsed(report.elapsed), eta=eta)


def broadcast_header(sender: str) -> str:
    """The first line of every broadcast copy: who sends it and why (plain text)."""
    return BROADCAST_HEADER.format(sender=sender)


def broadcast_copy(text: str, channel: Channel, sender: str) -> str:
    """A broadcast's text (markup) as a subscriber on `channel` receives it: header, text, stop
    line (both escaped)."""
    return f"{escape(broadcast_header(sender))}\n\n{text}\n\n{escape(BROADCAST_STOP[channel])}"


def broadcast_body(copy: str) -> str:
    """The broadcast's own text inside a copy (for a template that has its own header and stop
    line); a text that is not a copy is returned as it is."""
    head, _, rest = copy.partition("\n\n")
    body, _, stop = rest.rpartition("\n\n")
    if head.endswith(_HEADER_TAIL) and stop in BROADCAST_STOP.values():
        return body
    return copy


def broadcast_room(sender: str) -> int:
    """The longest admin text whose copy still fits in one message on every channel."""
    return MAX_MESSAGE_CHARS - max(len(broadcast_copy("", channel, sender))
                                   for channel in BROADCAST_STOP)


def render_missed(broadcasts: Iterable[Broadcast], grace: dt.timedelta, tz: dt.tzinfo) -> str:
    """Tell admins which broadcasts were missed while the bot was down."""
    items = "\n".join(f"• #{b.id} {format_local_time(b.send_at, tz)}: "
                      f"«{' '.join(to_plain(b.text).split())[:_SNIPPET_CHARS]}»"
                      for b in broadcasts)
    return BROADCAST_MISSED.format(grace=int(grace.total_seconds() // 60), items=items)
