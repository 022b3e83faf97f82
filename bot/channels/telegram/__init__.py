"""Telegram channel (python-telegram-bot), split by concern as PTB's own `telegram.ext` is.

`application` (the Application and the run loop), `handlers` (thin adapters and the menu),
`keyboards` (typed actions as callback data), `context` (per-chat state, update ordering) and
`sender` (broadcast delivery). With `bot/channels/whatsapp` the only code importing a transport.
"""
