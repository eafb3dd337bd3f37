"""Seed 004 (长府〔2019〕5号 附件1) as records: the 59 targets, each with its 领域 and the table's lines in order,
and a tokenizer for the unit names the seed runs together (“发改委  规土局临空办  新泾镇新华街道”). Used by
tools/seed004_keywork.py; run from the checkout (SEED004=path to the seed file otherwise)."""
import re, json
import os
t=open(os.environ.get('SEED004', '../shared/seeds/004_6636f39aa932eafa.txt'), encoding='utf-8').read()
i=t.index('一、经济发展')
body=t[i:t.index('我要留言')]
paras=[p.strip() for p in body.split('\n') if p.strip()]
recs=[]; dom=None; cur=None
for p in paras:
    m=re.match(r'^([一二三四五六七八九十]+)、(.+)$', p)
    if m: dom=m.group(2); continue
    if re.fullmatch(r'\d{1,2}', p):
        cur={'no':int(p),'domain':dom,'lines':[]}; recs.append(cur); continue
    cur['lines'].append(p)
UNITS = """区政务公开与“互联网+政务服务”领导小组成员单位 区对口支援与合作交流领导小组成员单位 区就业促进工作领导小组成员单位
环境保护和建设协调委员会成员单位 区节能减排工作领导小组成员单位 区人才工作协调小组成员单位 区质量工作领导小组成员单位
示范区创建工作领导小组成员单位 区26家签约单位 各相关涉改部门 区府办(电子政务办) 区府办(合作交流办) 区食药安委 各成员单位
市场监管局 绿化市容局 城管执法局 新长宁集团 九华集团 消防支队 公安分局 各街(镇) 各相关部门 相关部门 相关街镇 各部门
发改委 商务委 科委 金融办 临空办 区临空办 财政局 税务局 卫计委 人社局 教育局 司法局 国资委 环保局 建交委 规土局 房管局
新泾镇 程桥街道 新华街道 新华路街道 虹桥街道 华阳街道 华阳路街道 江苏路街道 周家桥街道 天山路街道 仙霞新村街道 北新泾街道
网信办 区府办 文化局 体育局 团区委 区残联 民政局 社建办 虹桥办 审改办 机管局 联动中心 安监局 信访办 政法委 民防办 应急办
地震办 宣传部 审计局 江苏街道 天山街道 仙霞街道 北新泾街道 周桥街道 国资委(相关国企) 区临空公司 区房屋管理公司 区住房租赁工作组 人社局(医保办) 区府办(外事办) 其他城区运行管理相关部门 新闻办 外专局 法院 检察院 发改委(统计局) 统计局 旅游局 侨办 民宗办 档案局 区委组织部 妇联 工商联 科协 总工会 红十字会 区法院 检察院 残联 团委
""".split()
UNITS.sort(key=len, reverse=True)
def tok(line):
    s=re.sub(r'\s+','',line)
    out=[]
    while s:
        for u in UNITS:
            if s.startswith(u):
                out.append(u); s=s[len(u):]; break
        else:
            return out, s
    return out, ''
if __name__=='__main__':
    for r in recs:
        for l in r['lines']:
            if len(l) < 60:
                u, rest = tok(l)
                if rest: print(r['no'], repr(l), u, 'REST', rest)
