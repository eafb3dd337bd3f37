"""stages.paperwork: what a move calls for — 公文 drafts and their layout, numbering and sign-off, messages to people.

One kind of thing a module (the layers above import the first column; the others are theirs):

- ``drafting``          the documents and records a move's outcome calls for (``after``), the moves on a document
                        (edit, 签发); the periodic ones are ``reports`` (督办通知, 进展情况, 主要指标监测情况), the
                        names documents give things ``naming``.
- ``notices``           notice settings, rendering a notice from its template, the register (发文字号), filing.
- ``documents``         the document as bytes, the door to ``markup`` (the markup, its parser, the Markdown preview),
                        ``titles`` (the title's lines), ``page`` (GB/T 9704's numbers), ``ooxml`` (WordprocessingML
                        primitives) and ``docx_writer`` (the ``.docx``); ``pdf`` converts a ``.docx`` with LibreOffice.
- ``messages``          the outbox of messages to people: enqueueing reminders, what a user reads, contacts; the
                        door to ``message_settings`` (channel settings), ``delivery`` (claim, send, record) and
                        ``channels`` (SMTP, webhooks).
"""
