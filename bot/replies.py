"""Every Indonesian sentence the bot says that is not knowledge-base data, in one place."""

from __future__ import annotations

from collections.abc import Iterable

from bot.models import Intent, Pledge, Source, Verdict

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
CAUTION_PREFIX = "⚠️ Catatan: "
BASIS_PREFIX = "⚖️ Dasar: "
SANCTION_PREFIX = "🔨 Sanksi: "
SOURCES_PREFIX = "📚 Sumber: "
TOPIC_MENU = "Pilih topik yang ingin Anda ketahui:"
TOPIC_HEADER = "Topik: {title}\nPilih pertanyaan:"
UNKNOWN_TOPIC = "Topik itu tidak ditemukan. Silakan pilih dari menu topik."
UNKNOWN_INTENT = "Maaf, jawaban itu sudah tidak tersedia. Silakan pilih dari menu topik."
RELATED_LABEL = "Lihat juga"


def render_answer(intent: Intent, sources: Iterable[Source]) -> str:
    """Render an answer: verdict first, then explanation, caution, basis, sanction, sources."""
    label = VERDICT_LABELS[intent.verdict] if intent.verdict else "ℹ️"
    parts = [f"{label} — {intent.title}", intent.answer]
    if intent.caution:
        parts.append(CAUTION_PREFIX + intent.caution)
    if intent.basis:
        parts.append(BASIS_PREFIX + "; ".join(intent.basis))
    if intent.sanction:
        parts.append(SANCTION_PREFIX + intent.sanction)
    shorts = [s.short for s in sources]
    if shorts:
        parts.append(SOURCES_PREFIX + "; ".join(shorts))
    return "\n\n".join(parts)


def render_pledge(pledge: Pledge) -> str:
    """Render the pledge text as a numbered list."""
    points = "\n".join(f"{n}. {point}" for n, point in enumerate(pledge.points, start=1))
    return "\n\n".join(p for p in (f"📜 {pledge.title}", pledge.intro, points, pledge.closing) if p)
