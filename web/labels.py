"""Names the pages show for the procedure's own words: actions, payload fields, the values a
field may take, statuses. Each is a (zh, en) pair, shown in the page's language with
`pick`, like the refusals the service carries. Stages, flags, roles, categories and
deadline kinds already carry their names in the procedure data (`flows.procedure`)."""

from __future__ import annotations

from flows import procedure as proc
from flows.timeline import DECISION_STATUS_ZH, STAGE_STATUS_ZH

Label = tuple[str, str]

ACTIONS: dict[str, Label] = {
    "propose_catalogue_entry": ("申报目录事项", "Propose a catalogue matter"),
    "review_catalogue_entry": ("审核目录事项", "Review a catalogue matter"),
    "approve_catalogue": ("常务会议审议目录", "Record the executive meeting's approval"),
    "record_catalogue_party_approval": ("记录党委同意目录", "Record the Party committee's approval"),
    "publish_catalogue": ("公布目录", "Publish the catalogue"),
    "adjust_catalogue": ("调整目录", "Adjust the catalogue"),
    "register_decision": ("登记决策事项", "Register a decision"),
    "start_procedure": ("决定启动决策程序", "Start the procedure"),
    "submit_draft": ("提交决策草案", "Submit the draft"),
    "revise_draft": ("修改决策草案", "Revise the draft"),
    "withdraw_decision": ("撤回决策事项", "Withdraw the decision"),
    "approve_stage": ("审核通过阶段", "Approve a stage"),
    "return_stage": ("退回阶段", "Return a stage"),
    "open_comment_period": ("公开征求意见", "Open a comment period"),
    "submit_public_comment": ("提交公众意见", "Submit a public comment"),
    "record_participation_activity": ("记录公众参与活动", "Record a participation activity"),
    "respond_to_input": ("答复意见", "Respond to an input"),
    "complete_participation": ("完成公众参与", "Complete public participation"),
    "announce_hearing": ("发布听证公告", "Announce a hearing"),
    "register_for_hearing": ("报名参加听证", "Register for a hearing"),
    "select_hearing_participants": ("遴选听证参加人", "Select hearing participants"),
    "publish_participant_list": ("公布听证参加人名单", "Publish the participant list"),
    "deliver_hearing_materials": ("送达听证材料", "Deliver the hearing materials"),
    "record_hearing": ("记录听证会", "Record the hearing"),
    "submit_hearing_report": ("提交听证报告", "Submit the hearing report"),
    "add_expert_to_pool": ("增补专家库", "Add an expert to the pool"),
    "select_experts": ("选定论证专家", "Select experts"),
    "record_expert_opinion": ("记录专家论证意见", "Record an expert opinion"),
    "complete_expert_review": ("完成专家论证", "Complete the expert review"),
    "submit_risk_assessment": ("提交风险评估报告", "Submit the risk assessment"),
    "reference_existing_assessment": ("援引已有风险评估", "Reference an existing assessment"),
    "judge_risk": ("判断风险是否可控", "Judge whether the risk is controllable"),
    "record_fair_competition_review": ("记录公平竞争审查结论", "Record the fair competition review"),
    "submit_for_legality_review": ("送请合法性审查", "Submit for legality review"),
    "return_for_supplement": ("退回补充材料", "Return for supplement"),
    "resubmit_for_legality_review": ("重新送请合法性审查", "Resubmit for legality review"),
    "record_legal_adviser_opinion": ("记录法律顾问意见", "Record a legal adviser's opinion"),
    "issue_legality_opinion": ("出具合法性审查意见", "Issue the legality opinion"),
    "record_changes_after_review": ("记录按审查意见修改情况", "Record the changes after review"),
    "confirm_revision": ("确认修改不涉及合法性", "Confirm a revision"),
    "confirm_flag": ("确认决策标记", "Confirm a flag"),
    "change_flags": ("变更决策标记", "Change the flags"),
    "submit_for_discussion": ("提请集体讨论", "Submit for collective discussion"),
    "record_meeting": ("记录集体讨论会议", "Record the meeting"),
    "record_party_report": ("记录向党委请示报告", "Record the Party report"),
    "record_party_reply": ("记录党委批复", "Record the Party reply"),
    "record_congress_step": ("记录人大程序", "Record the congress step"),
    "publish_decision": ("公布决策", "Publish the decision"),
    "archive_decision": ("决策归档", "Archive the decision"),
    "assign_execution_unit": ("确定执行单位", "Assign the execution unit"),
    "report_execution_progress": ("报告执行情况", "Report execution progress"),
    "report_execution_problem": ("报告执行中的问题", "Report an execution problem"),
    "start_post_evaluation": ("启动决策后评估", "Start a post-evaluation"),
    "submit_post_evaluation_report": ("提交后评估报告", "Submit the post-evaluation report"),
    "suspend_execution": ("暂停执行", "Suspend execution"),
    "start_adjustment": ("启动决策调整", "Start an adjustment"),
    "resume_execution": ("恢复执行", "Resume execution"),
    "terminate_decision": ("终止执行", "Terminate the decision"),
    "submit_execution_feedback": ("提交执行反馈意见", "Submit feedback on execution"),
    "add_unit": ("新增单位", "Add a unit"),
    "add_user": ("新增用户", "Add a user"),
    "disable_user": ("停用用户", "Disable a user"),
    "change_settings": ("变更辖区设置", "Change the settings"),
    "extend_deadline": ("延长期限", "Extend a deadline"),
    "shorten_deadline": ("缩短期限", "Shorten a deadline"),
    # what the audit trail records besides the actions
    "deadline_due": ("期限到期（系统）", "A deadline fell due (system)"),
    "calendar_recomputed": ("按放假通知重算期限", "Deadlines recomputed by a holiday notice"),
    "calendar_loaded": ("载入放假通知", "Holiday notice loaded"),
    "setup_jurisdiction": ("设立辖区", "Jurisdiction set up"),
    "mark_read": ("标记通知已读", "Notifications marked read"),
    "retry_delivery": ("重发投递", "Delivery retried"),
}

FIELDS: dict[str, Label] = {
    "acting_head": ("代行行政首长职责的成员", "Acting head"),
    "add": ("新增标记", "Flags to add"),
    "adoption_explanation": ("公众意见采纳情况说明", "Explanation of how opinions were adopted"),
    "adviser": ("法律顾问或公职律师", "Legal adviser or public lawyer"),
    "adviser_kind": ("身份", "Kind"),
    "affiliation": ("工作单位", "Affiliation"),
    "alternatives": ("备选方案", "Alternatives"),
    "approval_ref": ("党委同意文号或会议", "Party approval reference"),
    "approved_on": ("日期", "Date"),
    "attachment": ("附件", "Attachment"),
    "catalogue_entry": ("目录事项（如 2026/E3）", "Catalogue entry (e.g. 2026/E3)"),
    "category": ("决策类别（第三条）", "Category (Art. 3)"),
    "changes": ("修改情况", "Changes made"),
    "channels": ("渠道", "Channels"),
    "conclusion": ("审查结论", "Conclusion"),
    "confirm": ("确认", "Confirm"),
    "consultation_record": ("征求相关部门意见记录", "Inter-departmental consultation record"),
    "contact": ("联系方式", "Contact"),
    "controllable": ("风险可控", "Risk controllable"),
    "cost_benefit": ("成本效益分析", "Cost-benefit analysis"),
    "declaration": ("利害关系声明", "Interest declaration"),
    "defer_to": ("暂缓至", "Deferred to"),
    "delivered_on": ("送达日期", "Delivered on"),
    "departments_consulted": ("征求意见的部门", "Departments consulted"),
    "differing_view": ("持不同意见", "Holds a differing view"),
    "direct_interest": ("有直接利害关系", "Direct interest"),
    "dispute_statement": ("争议问题说明", "Statement of disputed points"),
    "document_ref": ("文号", "Document reference"),
    "draft": ("草案全文", "Draft text"),
    "draft_link": ("草案链接", "Link to the draft"),
    "email": ("电子邮箱", "E-mail"),
    "end_date": ("截止日期", "End date"),
    "entry": ("目录事项编号", "Entry"),
    "evaluator_unit": ("评估单位", "Evaluating unit"),
    "evidence": ("证明材料", "Evidence"),
    "expert": ("专家编号", "Expert"),
    "experts": ("论证专家", "Experts"),
    "explanation": ("起草说明", "Explanation"),
    "fields": ("专业领域", "Fields"),
    "flag": ("标记", "Flag"),
    "flags": ("决策标记", "Flags"),
    "group_name": ("特定群体", "Group"),
    "handling_plan": ("风险处置预案", "Handling plan"),
    "head_decision": ("行政首长决定", "The head's decision"),
    "head_reason": ("行政首长说明理由", "The head's reason"),
    "hearing": ("听证会编号", "Hearing"),
    "hearing_required": ("列入听证目录", "In the hearing catalogue"),
    "held_on": ("召开日期", "Held on"),
    "id": ("编号", "Code"),
    "include": ("纳入目录", "Include"),
    "initiation_decision": ("启动决定", "Decision to start"),
    "input": ("意见编号", "Input"),
    "input_kind": ("意见类型", "Input kind"),
    "interest_group": ("利益群体", "Interest group"),
    "interpretation": ("政策解读", "Interpretation"),
    "kind": ("类型", "Kind"),
    "lead_unit": ("牵头单位", "Lead unit"),
    "legal_bases": ("法律政策依据", "Legal and policy bases"),
    "legal_basis": ("法律依据", "Legal basis"),
    "legal_risk_statement": ("法律风险说明", "Legal-risk statement"),
    "level": ("风险等级", "Risk level"),
    "locale": ("通知语言", "Language"),
    "main_content": ("主要内容", "Main content"),
    "materials": ("材料", "Materials"),
    "matter_name": ("事项名称", "Matter"),
    "meeting_date": ("会议日期", "Meeting date"),
    "meeting_ref": ("常务会议", "Executive meeting"),
    "meeting_type": ("会议类型", "Meeting type"),
    "member": ("成员", "Member"),
    "members_present": ("出席成员", "Members present"),
    "minutes": ("会议纪要", "Minutes"),
    "name": ("名称", "Name"),
    "new_due": ("新的期限", "New due date"),
    "note": ("备注", "Note"),
    "notes": ("说明", "Notes"),
    "notice": ("公告全文", "Notice"),
    "on_date": ("日期", "Date"),
    "opinion": ("意见全文", "Opinion"),
    "opinions": ("发言意见（按发言顺序）", "Opinions (in speaking order)"),
    "organ": ("决策机关", "Decision organ"),
    "outcome": ("结论", "Outcome"),
    "participant": ("参加人", "Participant"),
    "place": ("地点", "Place"),
    "planned_decision_time": ("计划完成时间", "Planned decision time"),
    "position": ("表态", "Position"),
    "prevention_measures": ("防范措施", "Prevention measures"),
    "procedures_required": ("需履行的程序", "Procedures required"),
    "procedures_statement": ("履行法定程序情况说明", "Statement of procedures performed"),
    "proposal": ("决策建议", "Proposal"),
    "proposal_source": ("建议来源", "Proposal source"),
    "public_notice": ("公告", "Public notice"),
    "public_value": ("公开随机数", "Public random value"),
    "public_value_source": ("随机数来源", "Source of the value"),
    "published_on": ("公布日期", "Published on"),
    "quotas": ("各利益群体名额", "Quotas per interest group"),
    "reason": ("理由", "Reason"),
    "reason_code": ("不纳入的理由类别", "Reason for leaving out"),
    "record": ("听证会记录", "Hearing record"),
    "ref": ("编号（可留空，由系统编号）", "Reference (leave empty for a system number)"),
    "reference": ("已有评估", "Existing assessment"),
    "refused_to_sign": ("拒绝签字的参加人", "Participants who did not sign"),
    "registration_closes": ("报名截止", "Registration closes"),
    "registration_opens": ("报名开始", "Registration opens"),
    "remove": ("取消标记", "Flags to remove"),
    "remove_required_stages": ("不再需要的程序", "Required procedures to drop"),
    "replaces": ("替代的听证会", "Replaces hearing"),
    "report": ("报告全文", "Report"),
    "required_changes": ("需修改的内容", "Required changes"),
    "result": ("结果", "Result"),
    "reviewer_unit": ("审查单位", "Reviewing unit"),
    "risk_points": ("风险点", "Risk points"),
    "roles": ("角色", "Roles"),
    "sealed": ("已盖章", "Sealed"),
    "selection_method": ("遴选方式", "Selection method"),
    "settings": ("设置", "Settings"),
    "signed": ("已签名", "Signed"),
    "signed_by": ("签字的参加人", "Signed by"),
    "speaker": ("发言人", "Speaker"),
    "stage": ("阶段", "Stage"),
    "start_date": ("开始日期", "Start date"),
    "starts_at": ("举行时间", "Starts at"),
    "statements": ("听证陈述", "Statements"),
    "subject_ref": ("对象编号", "Subject"),
    "summary": ("摘要", "Summary"),
    "text": ("正文", "Text"),
    "title": ("决策事项名称", "Title"),
    "trigger": ("情形", "Trigger"),
    "unit": ("单位", "Unit"),
    "units": ("承办单位", "Undertaking units"),
    "urgency": ("紧急情况说明", "Urgency"),
    "urgent_reason": ("缩短期限的紧急理由", "Urgent reason for a shorter period"),
    "url": ("网址", "URL"),
    "year": ("年度", "Year"),
    "file": ("放假通知文件", "Holiday notice file"),
    "decision": ("决策", "Decision"),
    "actor": ("经办人", "Actor"),
}

# Values a field may take (Literal options, enums, choices from the state).
VALUES: dict[str, Label] = {
    # outcomes and positions
    "lawful": ("合法", "lawful"),
    "lawful_after_changes": ("修改后合法", "lawful after the listed changes"),
    "unlawful": ("不合法", "unlawful"),
    "adopted": ("采纳", "adopted"),
    "partly_adopted": ("部分采纳", "partly adopted"),
    "not_adopted": ("不予采纳", "not adopted"),
    "agree": ("同意", "agree"),
    "disagree": ("不同意", "disagree"),
    "abstain": ("弃权", "abstain"),
    "approve": ("通过", "approve"),
    "approve_with_changes": ("修改后通过", "approve with changes"),
    "reject": ("不予通过", "reject"),
    "defer": ("暂缓", "defer"),
    "agreed": ("同意", "agreed"),
    "not_agreed": ("不同意", "not agreed"),
    "executive": ("常务会议", "executive meeting"),
    "plenary": ("全体会议", "plenary meeting"),
    "high": ("高", "high"),
    "medium": ("中", "medium"),
    "low": ("低", "low"),
    "compliant": ("符合", "compliant"),
    "non_compliant": ("不符合", "not compliant"),
    "exception_applies": ("适用例外规定", "an exception applies"),
    "legal_adviser": ("法律顾问", "legal adviser"),
    "public_lawyer": ("公职律师", "public-sector lawyer"),
    # inputs
    "comment": ("公众意见", "comment"),
    "hearing_statement": ("听证陈述", "hearing statement"),
    "expert_opinion": ("专家意见", "expert opinion"),
    "feedback": ("执行反馈", "feedback"),
    # proposal sources
    "leader": ("领导提出", "a leader"),
    "department": ("部门提出", "a department"),
    "lower_government": ("下级政府提出", "a lower government"),
    "deputy_or_cppcc": ("人大代表、政协委员建议", "a deputy or CPPCC member"),
    "public": ("公众建议", "the public"),
    # participation activities
    "forum": ("座谈会", "forum"),
    "field_visit": ("实地走访", "field visit"),
    "written_request": ("书面征求意见", "written request"),
    "questionnaire": ("问卷调查", "questionnaire"),
    "poll": ("民意调查", "poll"),
    "specific_group_consultation": ("特定群体座谈", "specific-group consultation"),
    "expert_interview": ("专家访谈", "expert interview"),
    # catalogue
    "add": ("新增", "add"),
    "remove": ("删除", "remove"),
    "implements_higher_decision": ("执行上级决定", "implements a higher-level decision"),
    "excluded_by_art_3_2": ("属于第三条第二款排除事项", "excluded by Art. 3(2)"),
    "not_major": ("不属于重大行政决策事项", "not a major decision matter"),
    # congress and existing assessments
    "report": ("报告", "report"),
    "discussion": ("讨论", "discussion"),
    "decision": ("决定", "decision"),
    "social_stability": ("社会稳定风险评估", "social stability"),
    "environmental_impact": ("环境影响评价", "environmental impact"),
    "other": ("其他", "other"),
    # publication channels
    "gazette": ("政府公报", "gazette"),
    "website": ("政府网站", "website"),
    "newspaper": ("本地报纸", "newspaper"),
    # accounts
    "zh_CN": ("中文", "Chinese"),
    "en": ("英文", "English"),
    "inbox": ("站内通知", "inbox"),
    "webhook": ("接口推送", "webhook"),
    # unit kinds
    "legal_office": ("合法性审查机构", "legal office"),
    "gov_office": ("政府办公室", "government office"),
    "party_office": ("党委办公室", "Party office"),
    "congress_office": ("人大办公室", "congress office"),
    "third_party": ("第三方机构", "third party"),
    # catalogue statuses
    "proposed": ("已申报", "proposed"),
    "included": ("已纳入", "included"),
    "rejected": ("未纳入", "rejected"),
    "removed": ("已删除", "removed"),
    "deferred": ("已暂缓", "deferred"),
    "draft": ("草稿", "draft"),
    "approved": ("常务会议已审议", "approved"),
    "party_approved": ("党委已同意", "Party approved"),
    "published": ("已公布", "published"),
    "superseded": ("已被替代", "superseded"),
    # review rounds and deadlines
    "under_review": ("审查中", "under review"),
    "returned": ("已退回", "returned"),
    "opinion_issued": ("已出具意见", "opinion issued"),
    "open": ("未到期", "open"),
    "met": ("已完成", "met"),
    "fired": ("已到期", "fell due"),
    "cancelled": ("已取消", "cancelled"),
    "closed": ("已截止", "closed"),
}


def _title(value: str) -> str:
    return value.replace("_", " ")


def action(name: str) -> Label:
    return ACTIONS.get(name, (name, _title(name)))


def field(name: str) -> Label:
    return FIELDS.get(name, (name, _title(name)))


def value(name: str) -> Label:
    """A value's name: stages, flags, roles and deadline kinds from the procedure data, the
    rest from `VALUES`."""
    p = proc.procedure()
    if name in p.stage_by_id:
        stage = p.stage_by_id[name]
        return stage.zh, stage.en
    if name in proc.FLAGS:
        return proc.FLAGS[name][0], proc.FLAGS[name][1]
    if name in proc.ROLES:
        return proc.ROLES[name]
    if name in p.deadline_kinds:
        kind = p.deadline_kinds[name]
        return kind.zh, kind.en
    return VALUES.get(name, (name, _title(name)))


def decision_status(status: str) -> Label:
    zh = {s.value: text for s, text in DECISION_STATUS_ZH.items()}.get(status, status)
    return zh, _title(status)


def stage_status(status: str) -> Label:
    zh = {s.value: text for s, text in STAGE_STATUS_ZH.items()}.get(status, status)
    en = {"not_required": "not required", "awaiting_approval": "awaiting approval"}.get(
        status, _title(status)
    )
    return zh, en


def category(number: int) -> Label:
    zh, _, en = proc.CATEGORIES.get(number, f"{number} / {number}").partition(" / ")
    return zh, en


__all__ = [
    "ACTIONS",
    "FIELDS",
    "VALUES",
    "action",
    "category",
    "decision_status",
    "field",
    "stage_status",
    "value",
]
