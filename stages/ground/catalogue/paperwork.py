"""Texts of the paperwork area (see ``stages.ground.catalogue``): code → (中文, English).

What ``stages.paperwork`` refuses and reports: editing and signing a document off (签发) and its 发文字号, rendering
and PDF, the messages' channels and settings, the periodic reports. Where the console translated a sentence before
(``app/web/words.py``), the Chinese here is that translation, so the console reads as it did; a parameter the
translation dropped is added at the end in brackets. Not here: the 公文 themselves (their templates are Chinese) and
the reminders' message texts (``stages.paperwork.message_settings``).
"""

_FIELDS = {"place": "会议地点", "contact_person": "联系人", "contact_phone": "联系电话", "contact_email": "电子邮箱",
           "contact_address": "地址", "signer": "签发人", "extra": "补充内容", "attendees": "参会人员"}

TEXTS: dict[str, tuple[str, str]] = {
    # -- a draft's fields: by name (what changed), and as a gap that stops 签发 ------------------------------------------
    **{f"paperwork.field.{k}": (zh, k) for k, zh in _FIELDS.items()},
    **{f"paperwork.gap.{k}": (f"“{zh}”", f"{k} ({zh})") for k, zh in {**_FIELDS, "text": "正文"}.items()},
    # a document's status, in a sentence that says why it cannot be changed
    "paperwork.status.draft": ("草稿", "draft"),
    "paperwork.status.issued": ("已签发", "issued"),
    "paperwork.status.withdrawn": ("已撤回", "withdrawn"),
    "paperwork.status.record": ("为记录", "record"),
    "paperwork.status.due": ("待印发", "due"),
    # -- the moves on a document: edit, sign ------------------------------------------------------------------------
    "paperwork.no_document_in_cycle": ("本周期没有文件 {id}（可用 `plancycle notices` 查看）",
                                       "no document {id} in this cycle (see `plancycle notices`)"),
    "paperwork.no_document": ("没有文件 {id}（可用 `plancycle notices` 查看）", "no document {id} (see `plancycle notices`)"),
    "paperwork.is_record": ("通知 {id}（{kind}）是一条记录，不是文件", "notice {id} ({kind}) is a record, not a document"),
    "paperwork.coordinator_only.edit": ("只有{coordinator}（规划科）可以办理此事项，{who}无权办理",
                                        "{who} cannot edit a document: only the coordinator ({coordinator}) can"),
    "paperwork.coordinator_only.sign": ("只有{coordinator}（规划科）可以办理此事项，{who}无权办理",
                                        "{who} cannot sign a document off: only the coordinator ({coordinator}) can"),
    "paperwork.signers_only": ("{who}无权签发文件：签发人为{signers}", "{who} cannot sign documents off: 签发 is for {signers}"),
    "paperwork.not_draft.edit": ("该文件{status}，不能再修改或签发（文件 {id}）",
                                 "document {id} is {status}; only a draft can be edited"),
    "paperwork.not_draft.sign": ("该文件{status}，不能再修改或签发（文件 {id}）",
                                 "document {id} is {status}; only a draft can be signed"),
    "paperwork.cannot_edit": ("不能修改“{field}”（可修改：{editable}）", "cannot edit {field!r} (editable: {editable})"),
    "paperwork.no_meeting_place": ("文件 {id}（{genre}）没有会议地点", "document {id} ({genre}) has no meeting place"),
    "paperwork.no_attendees": ("文件 {id}（{genre}）没有参会人员", "document {id} ({genre}) has no attendees"),
    "paperwork.nothing_to_change": ("没有需要保存的修改", "nothing to change: the values are the draft's already"),
    "paperwork.cannot_sign.one": ("文件暂不能签发：{fields}尚未填写或仍为占位内容，请先补充（文件 {id}）",
                                  "document {id} cannot be signed: {fields} is empty or a placeholder; edit it first"),
    "paperwork.cannot_sign.many": ("文件暂不能签发：{fields}尚未填写或仍为占位内容，请先补充（文件 {id}）",
                                   "document {id} cannot be signed: {fields} are empty or a placeholder; edit it first"),
    "paperwork.edited": ("文件 {id} 已修改：{fields}", "document {id} edited: {fields}"),
    "paperwork.signed": ("已签发（{genre}）：{number} {title}", "{genre} signed: {number} {title}"),
    "paperwork.no_number": ("（{genre}不编发文字号）", "(no number: {genre})"),
    # -- the register (发文字号) ------------------------------------------------------------------------------------------
    "paperwork.number_format": ("发文字号格式应为{pattern}（填写的是“{number}”）", "number must look like {pattern}, not {number!r}"),
    "paperwork.number_used": ("发文字号{number}已被使用", "{number} is already used by another document"),
    "paperwork.number_manual": ("发文字号由办公室 OA 统一编排（numbering.mode: manual）：请用 --number 填写发文字号",
                                "the register is kept by the office's OA (numbering.mode: manual): give the number "
                                "with --number"),
    "paperwork.unnumbered_genre": ("{genre}不编发文字号", "a {genre} carries no 发文字号"),
    # -- rendering ------------------------------------------------------------------------------------------------
    "paperwork.unknown_format": ("未知格式“{fmt}”（应为 docx、pdf 或 md）", "unknown format {fmt!r} (expected docx, pdf or md)"),
    "paperwork.pdf_missing": ("生成 PDF 需要安装 LibreOffice（soffice）：apt install libreoffice-writer",
                              "PDF needs LibreOffice (soffice) installed: apt install libreoffice-writer"),
    "paperwork.pdf_timeout": ("LibreOffice 未能在 {seconds} 秒内生成 PDF", "LibreOffice did not finish the PDF within {seconds} s"),
    "paperwork.pdf_failed": ("LibreOffice 未能生成 PDF（退出码 {code}）{said}", "LibreOffice could not make the PDF (exit {code}){said}"),
    "paperwork.pdf_said": ("：{said}", ": {said}"),
    # -- the notice settings (notices.yaml) ------------------------------------------------------------------------
    "paperwork.settings.not_mapping": ("应为映射", "must be a mapping"),
    "paperwork.settings.missing_key": ("缺少键“{key}”", "missing key {key!r}"),
    "paperwork.settings.documents_not_mapping": ("documents：应为公文类型到设置的映射",
                                                 "documents: must be a mapping of document kind → settings"),
    "paperwork.settings.unknown_document_kind": ("documents：未知的公文类型“{kind}”（已知：{known}）",
                                                 "documents: unknown document kind {kind!r} (known: {known})"),
    "paperwork.settings.numbering_mode": ("numbering.mode 应为 sequence 或 manual，不能是“{mode}”",
                                          "numbering.mode must be sequence or manual, not {mode!r}"),
    # -- messages: people, channels, their settings ---------------------------------------------------------------
    "paperwork.no_message": ("没有消息 {id}", "no message {id}"),
    "paperwork.no_user": ("没有用户“{user}”", "no user {user!r}"),
    "paperwork.bad_email": ("“{email}”不是有效的电子邮箱地址", "not an e-mail address: {email!r}"),
    "paperwork.bad_phone": ("“{phone}”不是有效的电话号码", "not a phone number: {phone!r}"),
    "paperwork.messages_settings_unreadable": ("无法读取消息设置文件", "cannot read the messages settings"),
    "paperwork.smtp_password_unset": ("未设置 SMTP 密码（环境变量 {env}）", "SMTP password not set (environment variable {env})"),
    "paperwork.webhook_url_unset": ("未设置 webhook 地址（环境变量 {env}）", "webhook URL not set (environment variable {env})"),
    "paperwork.webhook_no_url": ("webhook 未设置 url 或 url_env", "webhook has neither url nor url_env"),
    "paperwork.webhook_url_scheme": ("webhook 地址须以 http:// 或 https:// 开头", "webhook URL must start with http:// or https://"),
    "paperwork.env_unset": ("未设置环境变量 {name}", "environment variable {name} is not set"),
    "paperwork.channel_unavailable": ("{channel}：{unsent} 条消息未发出：{error}", "{channel}: {unsent} message(s) not sent: {error}"),
    # -- the yearly 《纲要》主要指标监测情况 --------------------------------------------------------------------------------
    "paperwork.no_indicators": ("{cycle} 没有主要指标（其周期文件的 indicators: 下未列任何指标）",
                                "{cycle} has no indicators (its cycle file lists none under indicators:)"),
    "paperwork.no_monitoring_year": ("{year}年不在指标监测期内（{name}的监测年份：{span}）",
                                     "{year}: no indicator monitoring that year ({name} monitors {span})"),
    "paperwork.year_span": ("{first}—{last}年", "{first}–{last}"),
    "paperwork.no_year": ("无", "no year"),
    "paperwork.year_not_over": ("{year}年至 {date} 尚未结束：该年度指标监测情况报告自 {from_day} 起方可起草",
                                "{year} is not over on {date}: its indicator report can be drafted from {from_day}"),
    "paperwork.not_a_year": ("年份“{year}”无效（应为四位数年份，如 2022）", "the year {year!r} is not a year (expected e.g. 2022)"),
    "paperwork.indicator_report_no_to": ("主要指标监测情况报告须有主送机关：请在 {path} 中设置 documents.indicator_report.to",
                                         "the indicator report needs a 主送: set documents.indicator_report.to in {path}"),
}
