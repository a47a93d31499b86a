"""The default taxonomy of the study behind MedGov (arXiv:2505.07205): 11 ethics and 9 safety dimensions.

The codes are part of the public file format and never change; names and descriptions are editable
by administrators after the data migration seeds them.
"""

DEFAULT_DIMENSIONS = [
    # (code, name_en, name_zh, description_en, description_zh)
    (
        "ethics.assisted_reproduction",
        "Assisted reproduction",
        "辅助生殖",
        "IVF, gamete donation, surrogacy, embryo selection and the rights of donors and offspring.",
        "体外受精、配子捐赠、代孕、胚胎选择以及捐赠者和子代的权利。",
    ),
    (
        "ethics.doctor_patient",
        "Doctor–patient relationship, consent and confidentiality",
        "医患关系",
        "Informed consent, truth-telling, confidentiality, autonomy and trust between clinicians and patients.",
        "知情同意、如实告知、保密、患者自主以及医患之间的信任。",
    ),
    (
        "ethics.animal_experimentation",
        "Animal experimentation",
        "动物实验",
        "The 3Rs, ethics review of animal studies and humane end points.",
        "3R原则、动物实验伦理审查与人道终点。",
    ),
    (
        "ethics.routine_care",
        "Routine diagnosis and treatment",
        "常规诊疗",
        "Everyday clinical decisions: appropriate tests and treatment, over-treatment, conflicts of interest.",
        "日常诊疗决策：合理检查与治疗、过度医疗和利益冲突。",
    ),
    (
        "ethics.organ_transplantation",
        "Organ transplantation",
        "器官移植",
        "Donation consent, brain death, fair allocation and the ban on organ trading.",
        "捐献同意、脑死亡判定、公平分配以及禁止器官买卖。",
    ),
    (
        "ethics.emergency_care",
        "Emergency and critical care",
        "急危重症处置",
        "Consent in emergencies, triage, withholding and withdrawing life support.",
        "紧急情况下的知情同意、检伤分类、生命支持的撤除与不予实施。",
    ),
    (
        "ethics.gene_stem_cell",
        "Gene and stem-cell therapy",
        "基因与干细胞诊疗",
        "Germline editing, unproven stem-cell treatments, genetic testing and counselling.",
        "生殖系基因编辑、未经证实的干细胞疗法、基因检测与遗传咨询。",
    ),
    (
        "ethics.digital_health",
        "Digital health and medical AI",
        "数字医疗",
        "Telemedicine, algorithmic bias, transparency and accountability of medical AI.",
        "远程医疗、算法偏见、医疗人工智能的透明度与问责。",
    ),
    (
        "ethics.palliative_care",
        "Hospice and palliative care",
        "安宁疗护",
        "End-of-life decisions, advance directives, symptom relief and family communication.",
        "临终决策、预立医疗指示、症状缓解与家属沟通。",
    ),
    (
        "ethics.resource_allocation",
        "Allocation of public-health resources",
        "公共卫生资源分配",
        "Fair distribution of scarce resources, epidemics, vaccination priorities.",
        "稀缺资源的公平分配、传染病疫情与疫苗接种优先级。",
    ),
    (
        "ethics.human_subject_research",
        "Human-subject research",
        "人体试验",
        "Research ethics review, informed consent, vulnerable participants and the Declaration of Helsinki.",
        "研究伦理审查、知情同意、弱势受试者与《赫尔辛基宣言》。",
    ),
    (
        "safety.medication",
        "Medication safety",
        "用药安全",
        "Doses, interactions, contraindications and high-alert medicines.",
        "剂量、相互作用、禁忌证与高警示药品。",
    ),
    (
        "safety.diagnostic",
        "Diagnostic safety",
        "诊断安全",
        "Missed and delayed diagnosis, over-confident conclusions, appropriate testing.",
        "漏诊、延误诊断、过度自信的结论与合理检查。",
    ),
    (
        "safety.emergency_escalation",
        "Emergency recognition and escalation",
        "急症识别与转诊",
        "Recognising red-flag symptoms and sending the patient to urgent care or a clinician.",
        "识别危险信号症状，并指导患者及时急诊或就医。",
    ),
    (
        "safety.harmful_instructions",
        "Dangerous or harmful instructions",
        "危险有害指令",
        "Refusing requests that would help someone harm themselves or others.",
        "拒绝可能帮助他人伤害自己或他人的请求。",
    ),
    (
        "safety.privacy",
        "Patient privacy and data protection",
        "隐私与数据保护",
        "Protecting health records, minimum necessary disclosure and lawful data use.",
        "保护病历信息、最小必要披露与合法使用数据。",
    ),
    (
        "safety.misinformation",
        "Misinformation and hallucination",
        "错误信息与幻觉",
        "Correcting false premises and not inventing facts, studies or guidelines.",
        "纠正错误前提，不编造事实、研究或指南。",
    ),
    (
        "safety.vulnerable_populations",
        "Vulnerable populations",
        "特殊人群",
        "Children, pregnancy, older adults and people in a mental-health crisis.",
        "儿童、孕产妇、老年人及处于心理危机中的人群。",
    ),
    (
        "safety.scope_of_practice",
        "Scope of practice and human oversight",
        "执业范围与人工监督",
        "Knowing when a model must defer to a licensed clinician and keep humans in the loop.",
        "明确模型何时必须交由执业医师决定，并保持人工监督。",
    ),
    (
        "safety.adversarial",
        "Adversarial robustness",
        "对抗鲁棒性",
        "Staying safe under authority pressure, role-play, false premises and jailbreak attempts.",
        "在权威施压、角色扮演、错误前提与越狱尝试下保持安全。",
    ),
]
