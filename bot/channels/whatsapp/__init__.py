"""WhatsApp channel (WhatsApp Business Cloud API through pywa), split by concern.

`client` (pywa's client, its HTTP session and the webhook app), `handlers` (thin adapters and
the menu), `interactive` (replies as reply buttons and list messages, typed actions as ids),
`sender` (broadcast delivery: the 24-hour window, templates, error mapping). With
`bot/channels/telegram` the only code importing a transport.
"""
