"""Texts of the flows area (see ``stages.ground.catalogue``): code → (中文, English)."""

TEXTS: dict[str, tuple[str, str]] = {
    "flows.bad_mode": ("PLANCYCLE_FLOWS 须为 {modes} 之一，不能为“{value}”", "PLANCYCLE_FLOWS must be one of {modes}, not {value!r}"),
    "flows.run_failed": ("流程运行失败", "the flow run failed"),
    "flows.not_a_workday": ("非工作日", "not a working day"),
    "flows.report_day_later": ("报告日为 {day}", "report day is {day}"),
    "flows.not_a_sending_channel": ("该渠道不发送消息", "not a channel that sends"),
    "flows.not_configured": ("未配置", "not configured"),
}
