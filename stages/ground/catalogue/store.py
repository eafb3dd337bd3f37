"""Texts of the store area (see ``stages.ground.catalogue``): code → (中文, English)."""

TEXTS: dict[str, tuple[str, str]] = {
    # finding a run (stages.store.runs)
    "store.no_run": ("数据库中没有规划周期，请先用 plancycle init CONFIG 建立",
                     "no cycle run in this database; create one with `plancycle init CONFIG`"),
    "store.no_such_run": ("数据库中没有规划周期 {cycle}，请先用 plancycle init CONFIG 建立",
                          "no cycle run {cycle} in this database; create one with `plancycle init CONFIG`"),
    "store.several_runs": ("数据库中有多个规划周期（{cycles}），请用 --cycle 指定其一",
                           "this database holds several cycle runs ({cycles}); name one with --cycle"),
    # the database's schema (stages.store.models)
    "store.newer_database": ("数据库 {where} 由更新版本的 plancycle 建立（结构版本 {schema}，本版本支持 {known}），"
                             "请升级 plancycle（未作任何修改）",
                             "database {where} was made by a newer plancycle (schema {schema}, this one knows {known}); "
                             "upgrade plancycle (nothing was changed)"),
    "store.newer_database_unchanged": ("数据库由更新版本的 plancycle 建立（结构版本 {schema}），未作任何修改",
                                       "database was made by a newer plancycle (schema {schema}); nothing was changed"),
    "store.older_database": ("数据库 {where} 由旧版本的 plancycle 建立：表 {table} 缺少 {missing}，"
                             "请迁移或另建数据库（未作任何修改）",
                             "database {where} was made by an older plancycle: table {table} lacks {missing}; "
                             "migrate it or start a new database (nothing was changed)"),
    # accounts and signing in (stages.store.users)
    "store.password_too_short": ("密码至少须 {least} 个字符", "a password needs at least {least} characters"),
    "store.password_too_long": ("密码最多 {most} 个字符", "a password has at most {most} characters"),
    "store.unknown_department": ("未知部门：{dept}", "unknown department {dept!r}"),
    "store.bad_username": ("用户名 {username} 不符合要求：须为2至40位字母、数字或 . _ -，并以字母或数字开头",
                           "username {username!r}: 2–40 letters, digits, '.', '_' or '-', starting with a letter or digit"),
    "store.bad_role": ("角色须为 {roles} 之一，不能为 {role}", "role must be one of {roles}, not {role!r}"),
    "store.needs_dept": ("部门联络员账号须用 --dept 指定所属部门（{username} 担任联络员的部门）",
                         "a department user needs --dept (the department {username} is liaison for)"),
    "store.user_exists": ("用户 {username} 已存在（修改密码请用 plancycle user passwd）",
                          "user {username} already exists (use `plancycle user passwd` to change a password)"),
    "store.bad_display_name": ("--name：姓名最多 {most} 个字符，且不能含控制字符",
                               "--name: at most {most} characters, no control characters"),
    "store.no_user": ("没有用户 {username}", "no user {username!r}"),
    "store.csv_header": ("用户 CSV 须有表头行，至少包含 username,password（可另含 name,role,dept）",
                         "users CSV needs a header line with at least username,password (and name,role,dept)"),
    "store.csv_line": ("第 {line} 行：{problem}", "line {line}: {problem}"),
    "store.login_refused": ("用户名或密码不正确", "wrong user name or password"),
    "store.login_locked": ("密码错误次数过多，账号已锁定至 {until}",
                           "too many wrong passwords: the account is locked until {until}"),
    # attachments (stages.store.files)
    "store.bad_max_upload": ("PLANCYCLE_MAX_UPLOAD_MB 须为以 MB 计的数字，不能为 {value}",
                             "PLANCYCLE_MAX_UPLOAD_MB must be a number of megabytes, not {value!r}"),
    "store.file_type": ("{name}：不接受此类型的文件（可上传 {types}）", "{name}: file type not allowed (allowed: {types})"),
    "store.file_too_large": ("{name}：文件超过 {mb} MB 上限", "{name}: file too large (over {mb} MB)"),
    "store.file_empty": ("{name}：文件为空", "{name}: empty file"),
    "store.file_mismatch": ("{name}：文件内容与扩展名 .{ext} 不符", "{name}: content does not match the file type .{ext}"),
    "store.no_file": ("没有可附上的文件：{path}", "no such file to attach: {path}"),
    "store.cannot_read": ("无法读取 {path}：{why}", "cannot read {path}: {why}"),
    "store.not_regular": ("{path}：不是普通文件", "{path}: not a regular file"),
    "store.path_too_large": ("{path}：文件 {size} MB，超过 {mb} MB 上限", "{path}: {size} MB is over the {mb} MB limit"),
    "store.permission_denied": ("无法读取 {path}：没有读取权限", "cannot read {path}: permission denied"),
    "store.not_a_digest": ("不是文件摘要：{sha}", "not a file digest: {sha!r}"),
    "store.not_in_store": ("文件 {sha}… 不在附件库 {root} 中", "file {sha}… is not in the store at {root}"),
}
