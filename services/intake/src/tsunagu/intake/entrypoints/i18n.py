"""The staff pages' words in Japanese (first) and English, and labels for the domain's codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tsunagu.shared.contracts.codes import (
    CONCERN_LABELS_JA,
    PROGRAMME_NAMES_EN,
    PROGRAMME_NAMES_JA,
    Concern,
    Programme,
)
from tsunagu.shared.contracts.reasons import render_reason

CONCERN_LABELS_EN: dict[Concern, str] = {
    Concern.INCOME_SHORTFALL: "Not enough money to live on",
    Concern.DEBT_ARREARS: "Debts or arrears",
    Concern.SPECIAL_LOAN_REPAYMENT: "Repaying a COVID special loan",
    Concern.LOAN_REQUEST: "Wants a loan",
    Concern.HOUSING: "At risk of losing home / housing worries",
    Concern.EMPLOYMENT: "Cannot find or keep work",
    Concern.FOOD_INSECURITY: "Not enough to eat",
    Concern.ISOLATION: "Isolated / wants company",
    Concern.HIKIKOMORI: "Social withdrawal (self or family)",
    Concern.FAMILY_8050: "Elderly parent with a jobless adult child (8050)",
    Concern.ELDERLY_CARE: "Care / life in old age",
    Concern.DEMENTIA_MONEY: "Dementia / hard to manage money",
    Concern.GUARDIANSHIP: "Adult guardianship",
    Concern.DISABILITY: "Disability",
    Concern.HEALTH: "Health / medical care",
    Concern.CHILDCARE: "Raising children",
    Concern.DV_ABUSE: "Domestic violence / abuse",
}

# key: (日本語, English)
WORDS: dict[str, tuple[str, str]] = {
    "app": ("つなぐ 受付", "Tsunagu Intake"),
    "council": ("社会福祉協議会 生活困りごと相談会", "Social Welfare Council consultation events"),
    "skip": ("本文へ移動", "Skip to content"),
    "nav.board": ("当日ボード", "Event board"),
    "nav.new": ("新規受付", "New case"),
    "nav.cases": ("相談一覧", "Cases"),
    "nav.inbox": ("窓口の受信箱", "Programme inbox"),
    "nav.admin": ("管理", "Admin"),
    "logout": ("ログアウト", "Log out"),
    "login": ("ログイン", "Log in"),
    "login.title": ("職員ログイン", "Staff login"),
    "login.failed": (
        "ユーザー名・パスワード・確認コードのいずれかが違います",
        "Wrong username, password or code",
    ),
    "login.form_expired": (
        "ログイン画面を開いてから時間がたったため、受け付けられませんでした。"
        "お手数ですが、パスワードをもう一度入力してログインしてください。",
        "This login page was open too long. Please enter your password again.",
    ),
    "login.locked": (
        "ログインの失敗が続いたため、しばらくお待ちください。"
        "少したってから、もう一度お試しください",
        "Too many failed logins: please wait a little and try again",
    ),
    "login.otp": ("確認コード（2段階認証を設定している方）", "Code (if you use a second factor)"),
    "account.password.title": ("パスワードの変更", "Change your password"),
    "account.password.forced": (
        "はじめてのログイン、または管理者がパスワードを設定したため、"
        "ご自分のパスワードに変更してください",
        "Please choose your own password before you continue",
    ),
    "account.password.current": ("現在のパスワード", "Current password"),
    "account.password.new": (
        "新しいパスワード（12文字以上）",
        "New password (12 characters or more)",
    ),
    "account.password.again": ("新しいパスワード（確認）", "New password again"),
    "account.password.mismatch": ("新しいパスワードが一致しません", "The new passwords differ"),
    "account.password.submit": ("変更する", "Change"),
    "admin.totp": ("2段階認証", "Second factor"),
    "admin.totp.on": ("設定されています。", "Set up."),
    "admin.totp.off": (
        "設定されていません（管理者は次のログインで設定します）。",
        "Not set up (an admin sets one up at their next sign-in).",
    ),
    "admin.totp.remove": ("2段階認証を解除する", "Remove the second factor"),
    "admin.totp.remove_hint": (
        "スマートフォンをなくしたときなどに解除します。この人のログインはすべて終了し、"
        "次のログインで設定し直します。",
        "For a lost phone: every sign-in of this person ends, and they set a factor up again "
        "at their next sign-in.",
    ),
    "account.totp.title": ("2段階認証の設定", "Set up a second factor"),
    "account.totp.explain": (
        "管理者は2段階認証が必要です。認証アプリ（Google Authenticator など）で"
        "QRコードを読み取るか次のキーを登録し、表示された6桁の確認コードを10分以内に"
        "入力してください",
        "Admins need a second factor. Scan the QR code with an authenticator app, or add "
        "this key to it, and enter the six-digit code it shows within ten minutes",
    ),
    "account.totp.qr": ("認証アプリで読み取るQRコード", "QR code for an authenticator app"),
    "account.totp.replacing": (
        "2段階認証はすでに設定されています。別のアプリ（新しいスマートフォンなど）に移すには、"
        "今お使いのアプリの確認コードも入力してください。今のアプリが使えないときは管理者に"
        "解除を依頼してください",
        "A second factor is already set up. To move it to another app (a new phone), also "
        "enter a code from the app you use now. If you no longer have it, ask an admin to "
        "remove the factor",
    ),
    "account.totp.code_new": (
        "新しいアプリの確認コード（6桁）",
        "Code from the new app (six digits)",
    ),
    "account.totp.current": (
        "今お使いのアプリの確認コード（6桁）",
        "Code from the app you use now (six digits)",
    ),
    "account.totp.current_wrong": (
        "今お使いのアプリの確認コードが違うか、すでに使われています。次に表示される6桁を"
        "入力してください",
        "The code from your current app is wrong or was already used: enter the next one it shows",
    ),
    "account.totp.key": ("登録するキー", "Key"),
    "account.totp.code": ("確認コード（6桁）", "Code (six digits)"),
    "account.totp.submit": ("設定する", "Set up"),
    "login.expired": (
        "ログインの有効期限が切れました。もう一度ログインしてください",
        "Your session has ended. Please log in again",
    ),
    "username": ("ユーザー名", "Username"),
    "password": ("パスワード", "Password"),
    "signed_in_as": ("ログイン中", "Signed in as"),
    "language": ("言語", "Language"),
    "required": ("必須", "required"),
    "optional": ("任意", "optional"),
    "yes": ("はい", "Yes"),
    "no": ("いいえ", "No"),
    "unknown": ("未確認", "Not asked"),
    "none": ("なし", "None"),
    "save": ("保存する", "Save"),
    "cancel": ("キャンセル", "Cancel"),
    "search": ("絞り込む", "Filter"),
    "all": ("すべて", "All"),
    "back": ("戻る", "Back"),
    "next": ("次へ", "Next"),
    "previous": ("前へ", "Previous"),
    "error.title": ("エラー", "Error"),
    "error.404": ("見つかりません", "Not found"),
    "error.403": ("この操作の権限がありません", "You may not do this"),
    "error.generic": ("処理できませんでした", "This could not be done"),
    "form.has_errors": (
        "入力内容を確認してください。赤字の項目に誤りがあります",
        "Please check the form: the fields marked in red need attention",
    ),
    # new case form
    "new.title": ("相談受付・申込票", "Intake sheet"),
    "new.event": ("相談会", "Consultation event"),
    "new.no_event": ("今日の相談会がありません", "There is no event today"),
    "new.late_intake": ("（日付外の受付・管理者が許可）", "(late intake, allowed by an admin)"),
    "new.taken_offline": (
        "（オフラインで受け付けた日の相談会）",
        "(the day the case was taken offline)",
    ),
    "new.resident": ("相談者", "Resident"),
    "new.name": ("氏名", "Name"),
    "new.name_kana": ("ふりがな", "Furigana"),
    "new.name_kana_help": ("ひらがな・カタカナ", "hiragana or katakana"),
    "new.sex": ("性別", "Sex"),
    "sex.female": ("女性", "Female"),
    "sex.male": ("男性", "Male"),
    "sex.other": ("その他", "Other"),
    "sex.not_stated": ("回答しない・未確認", "Not stated"),
    "new.birth_date": ("生年月日", "Date of birth"),
    "new.birth_date_help": ("例: 昭和23年5月1日 / 1948-05-01", "e.g. 1948-05-01 or 昭和23年5月1日"),
    "new.address": ("住所", "Address"),
    "new.phone": ("電話番号", "Phone"),
    "new.email": ("メールアドレス", "Email"),
    "new.language": ("連絡に使う言語", "Language for contact"),
    "lang.ja": ("日本語", "Japanese"),
    "lang.ja_easy": ("やさしい日本語", "Easy Japanese"),
    "lang.en": ("英語", "English"),
    "lang.zh": ("中国語", "Chinese"),
    "lang.vi": ("ベトナム語", "Vietnamese"),
    "new.situation": ("暮らしの状況", "Situation"),
    "new.lives_alone": ("ひとり暮らし", "Lives alone"),
    "new.disability_certificate": ("障害者手帳がある", "Holds a disability certificate"),
    "new.special_loan_borrower": ("特例貸付の借受人", "COVID special loan borrower"),
    "new.household": ("同居している人", "Household members"),
    "new.relationship": ("続柄", "Relationship"),
    "new.age": ("年齢", "Age"),
    "new.proxy": ("代わりに来た人（代理人）", "Came on the resident's behalf"),
    "new.proxy_name": ("代理人の氏名", "Name"),
    "new.concerns": ("相談内容（あてはまるものすべて）", "Concerns (all that apply)"),
    "new.most_pressing": ("一番困っていること", "Most pressing"),
    "new.most_pressing_help": (
        "相談内容のうち一番困っていることを1つ選んでください",
        "Mark the one concern that weighs most",
    ),
    "new.urgent": ("緊急の状況", "Urgent"),
    "urgent.no_food_today": ("今日食べるものがない", "No food today"),
    "urgent.eviction_within_7_days": ("7日以内に住まいを失う", "Eviction within 7 days"),
    "new.consent": ("同意と連絡", "Consent and contact"),
    "new.share": ("関係窓口での情報共有", "Share across programmes"),
    "new.share_yes": ("共有に同意する", "Agrees to sharing"),
    "new.share_no": ("共有しない", "Does not agree"),
    "new.basis": ("共有の根拠", "Legal basis for sharing"),
    "basis.consent": ("本人同意", "Consent"),
    "basis.support_meeting": ("支援会議", "Support meeting"),
    "basis.none": ("なし", "None"),
    "new.channels": ("連絡方法", "Contact by"),
    "channel.phone": ("電話", "Phone call"),
    "channel.sms": ("SMS", "SMS"),
    "channel.email": ("メール", "Email"),
    "channel.letter": ("手紙", "Letter"),
    "channel.none": ("連絡しない", "Do not contact"),
    # Agencies outside the council (``ExternalAgency``), as staff name them.
    "agency.welfare_office": ("福祉事務所（生活保護）", "City welfare office"),
    "agency.hello_work": ("ハローワーク", "Hello Work"),
    "agency.legal_aid": ("法テラス", "Legal aid (Houterasu)"),
    "agency.health_centre": ("保健所", "Health centre"),
    "agency.child_family_centre": ("こども家庭センター", "Child and family centre"),
    "agency.dv_centre": ("警察・配偶者暴力相談支援センター", "Police / DV centre"),
    "new.contact_time": ("連絡の時間帯", "Preferred time"),
    "inbox.note": ("詳しく（任意）", "Details (optional)"),
    "followup.suggested": ("振り分けの提案", "Routing suggests"),
    "followup.refer": ("提案の窓口に紹介する", "Refer to the suggested programme"),
    "followup.add": ("紹介を追加", "Add a referral"),
    "followup.add_button": ("この窓口に紹介する", "Refer"),
    "followup.requested": (
        "紹介を依頼しました。振り分けサービスが紹介を作ると、ここに表示されます。",
        "Referral requested; it shows here once routing has made it.",
    ),
    "search.label": ("ケースを検索", "Search cases"),
    "search.go": ("検索", "Search"),
    "search.placeholder": (
        "受付番号（下4桁）・氏名・ふりがな・電話・生年月日",
        "Reception no. (last 4), name, furigana, phone, birth date",
    ),
    "search.results": ("の検索結果", "search results for"),
    "new.sensitive": (
        "連絡に注意が必要（同居の人などに知られると危険がある）",
        "Contact with care (someone at home may be a danger)",
    ),
    "new.safe_contact": ("安全な連絡方法", "Safe contact"),
    "new.safe_contact_help": (
        "DV・虐待、または「連絡に注意が必要」のとき必須です。ここで選んだ方法以外では、"
        "ご本人に一切連絡しません（手紙・自宅あては使いません）。",
        "Required for DV/abuse or a sensitive case. The resident is contacted by this channel"
        " only, never by letter or at home.",
    ),
    "new.safe_choose": ("選んでください", "Choose"),
    "safe.none": ("安全な連絡先なし（本人には連絡しない）", "No safe contact (do not contact)"),
    "safe.email": ("メール（入力したアドレス）", "Email (the address given)"),
    "safe.sms": ("SMS（入力した携帯番号）", "SMS (the mobile number given)"),
    "safe.phone": ("電話（入力した番号・職員から）", "Phone call by staff (the number given)"),
    "risk.banner": (
        "【要注意】DV・虐待などの危険があるケースです。住所・連絡先を同居の人などに伝えないでください。"
        "手紙や自宅あての連絡はしません。",
        "AT RISK: someone at home may be a danger. Never disclose the address or contacts;"
        " no letters, nothing sent home.",
    ),
    "risk.safe_contact": ("安全な連絡方法", "Safe contact"),
    "risk.badge": ("要注意", "At risk"),
    "risk.edit": ("連絡の注意・安全な連絡方法を変更", "Change the at-risk marking or safe contact"),
    "risk.mark": ("連絡に注意が必要", "Contact with care"),
    "time.any": ("いつでも", "Any time"),
    "time.morning": ("午前", "Morning"),
    "time.afternoon": ("午後", "Afternoon"),
    "time.evening": ("夕方", "Evening"),
    "new.notes": ("メモ", "Notes"),
    "new.preview": ("振り分けを確認", "Preview routing"),
    "new.submit": ("受付を登録する", "Register case"),
    "new.duplicates": ("同じ人かもしれない相談者がいます", "This may be someone we already know"),
    "new.duplicates_help": (
        "同じ人なら選んでください。重複登録すると世帯の記録が分かれてしまいます",
        "Choose them if it is the same person: duplicates split a household's history",
    ),
    "new.duplicates_confirm": (
        "同じ人かどうかを選んでから登録してください",
        "Please choose whether this is the same person, then register",
    ),
    "new.new_resident": ("新しい相談者として登録する", "Register as a new resident"),
    "new.same_person": ("この人として登録する", "Same person"),
    "new.last_visit": ("前回の来所", "Last visit"),
    "new.match_reasons": ("一致", "Matches on"),
    "reason.furigana": ("ふりがな", "furigana"),
    "reason.birth_date": ("生年月日", "date of birth"),
    "reason.phone": ("電話番号", "phone"),
    "preview.title": ("振り分けの見込み", "Where this case will go"),
    "preview.unreachable": (
        "振り分けの確認ができませんでした（振り分けサービスに接続できません）。受付の登録はできます",
        "The routing preview is unavailable (routing cannot be reached). You can still register the case",
    ),
    "preview.refused": (
        "振り分けの確認ができませんでした。受付の登録はできます",
        "The routing preview is unavailable. You can still register the case",
    ),
    "preview.food": ("食料品の配布対象", "Eligible for a food parcel"),
    "preview.compound": ("複合課題（CSW が調整）", "Compound case (CSW coordinates)"),
    "preview.external": ("外部機関", "External agencies"),
    # case page
    "case.title": ("相談記録", "Case"),
    "case.concerns": ("相談内容", "Concerns"),
    "case.edit_concerns": ("相談内容・緊急の状況を変更する", "Change concerns or urgency"),
    "case.number": ("受付番号", "Case number"),
    "case.event": ("相談会", "Event"),
    "case.taken_by": ("受付担当", "Taken in by"),
    "case.age": ("年齢（相談会の日）", "Age (on the event date)"),
    "case.referrals": ("つないだ窓口", "Referrals"),
    "case.no_referrals": (
        "振り分けの結果を待っています（自動で更新されます）",
        "Waiting for routing (this updates by itself)",
    ),
    "case.programme": ("窓口", "Programme"),
    "case.role": ("役割", "Role"),
    "case.status": ("状況", "Status"),
    "case.reasons": ("理由", "Reasons"),
    "case.deadline": ("受付期限", "Accept by"),
    "case.lead": ("主担当", "Lead"),
    "case.coordinator": ("調整役", "Coordinator"),
    "case.rule_version": ("ルール版", "Rule version"),
    "case.awaiting_consent": ("同意待ちの窓口", "Awaiting consent"),
    "case.food": ("食料品の配布", "Food parcel"),
    "case.food_yes": ("対象です", "Eligible"),
    "case.food_no": ("対象ではありません", "Not eligible"),
    "case.food_handed_out": ("お渡し済み", "Handed out"),
    "case.food_unknown": ("判定を待っています", "Not decided yet"),
    "case.consent": ("情報共有の同意", "Consent to sharing"),
    "case.consent_give": ("同意を記録する", "Record consent"),
    "case.consent_withdraw": ("同意の撤回を記録する", "Record withdrawal"),
    "case.consent_now": ("現在", "Now"),
    "consent.given_by": ("同意した人", "Given by"),
    "consent.by.resident": ("本人", "The resident"),
    "consent.by.legal_representative": ("法定代理人", "Legal representative"),
    "consent.given_how": ("同意の方法", "How"),
    "consent.confirmation": (
        "撤回の確認を本人に連絡する（本人が希望した場合）",
        "Confirm the withdrawal to the resident (if they asked)",
    ),
    "consent.how.signed_form": ("署名した同意書", "Signed form"),
    "consent.how.verbal": ("口頭", "Verbally"),
    "consent.meeting_held_on": ("支援会議の開催日", "Support meeting held on"),
    "consent.meeting_reference": ("記録番号", "Meeting reference"),
    "consent.meeting_give": ("支援会議での共有を記録する", "Record the support meeting"),
    "case.earlier": ("これまでの来所", "Earlier visits"),
    "case.no_earlier": ("初めての来所です", "First visit"),
    "case.audit": ("操作の記録", "Audit trail"),
    "case.when": ("日時", "When"),
    "case.who": ("職員", "Who"),
    "case.what": ("操作", "What"),
    "case.board": ("当日の状況", "Today's status"),
    "case.live": ("自動で更新されます", "Updates live"),
    "case.food_desk_view": (
        "食料品配布の窓口では、お渡しに必要な情報だけが表示されます",
        "The food desk sees only what a handout needs",
    ),
    "board.waiting": ("待っている", "Waiting"),
    "board.in_consultation": ("相談中", "In consultation"),
    "board.done": ("終了", "Done"),
    "board.title": ("当日ボード", "Event day board"),
    "board.queues": ("窓口ごとの待ち", "Programme queues"),
    "board.empty": ("まだいません", "Nobody yet"),
    "board.choose": ("相談会を選ぶ", "Choose an event"),
    "board.move_to": ("へ移す", "Move to"),
    "board.no_event": ("今日の相談会はありません", "No event today"),
    "role.lead": ("主担当", "Lead"),
    "role.coordinator": ("調整役", "Coordinator"),
    "role.member": ("連携", "Member"),
    "status.suggested": ("同意待ち", "Awaiting consent"),
    "status.pending": ("受付待ち", "Pending"),
    "status.accepted": ("受付済み", "Accepted"),
    "status.declined": ("お断り", "Declined"),
    "status.in_progress": ("支援中", "In progress"),
    "status.closed": ("終結", "Closed"),
    "status.escalated": ("期限超過", "Escalated"),
    "status.withdrawn": ("取り下げ", "Withdrawn"),
    "withdrawn.not_needed_after_correction": (
        "相談内容の訂正で不要になりました",
        "No longer needed after the case was corrected",
    ),
    "case.rerouted": ("訂正後の振り分け", "Routed again after correction"),
    "case.rerouted_added": ("追加", "added"),
    "case.rerouted_withdrawn": ("取り下げ", "withdrawn"),
    "urgent": ("緊急", "Urgent"),
    # inbox
    "inbox.title": ("窓口の受信箱", "Programme inbox"),
    "inbox.empty": ("対応が必要な紹介はありません", "No referrals need you now"),
    "inbox.awaiting": ("送信済み・確認待ち", "Sent, awaiting confirmation"),
    "inbox.stale": (
        "確認が届いていません。もう一度送ることができます",
        "No confirmation yet; you may send again",
    ),
    "inbox.include_closed": ("終結・お断りも表示", "Show closed and declined"),
    "action.accept": ("受ける", "Accept"),
    "action.decline": ("お断りする", "Decline"),
    "action.start": ("支援を開始する", "Start"),
    "action.close": ("終結する", "Close"),
    "inbox.reason": ("お断りする理由", "Reason for declining"),
    "inbox.outcome": ("終結の結果", "Outcome"),
    "inbox.open_case": ("記録を開く", "Open case"),
    # cases list
    "cases.title": ("相談一覧", "Cases"),
    "cases.none": ("該当する相談はありません", "No cases"),
    "cases.total": ("件", "cases"),
    # admin
    "admin.title": ("管理", "Administration"),
    "admin.venues": ("会場", "Venues"),
    "admin.events": ("相談会", "Events"),
    "admin.staff": ("職員とロール", "Staff and roles"),
    "admin.venue_id": ("会場ID", "Venue id"),
    "admin.venue_name": ("会場名", "Venue name"),
    "admin.venue_kana": ("会場名のよみがな", "Reading of the name"),
    "admin.venue_kana_help": (
        "ひらがなで（カタカナはひらがなにします）。やさしい日本語の住民向けページとチラシで、"
        "会場名のふりがなになります。",
        "In hiragana (katakana becomes hiragana): shown with the venue's name on the residents' "
        "page and flyer in easy Japanese.",
    ),
    "admin.date": ("日付", "Date"),
    "admin.opens": ("開始", "Opens"),
    "admin.closes": ("終了", "Closes"),
    "admin.programmes": ("参加する窓口", "Programmes present"),
    "admin.add_venue": ("会場を保存", "Save venue"),
    "admin.add_event": ("相談会を追加", "Add event"),
    "admin.add_staff": ("職員を追加", "Add staff member"),
    "admin.edit": ("編集", "Edit"),
    "admin.display_name": ("表示名", "Display name"),
    "admin.roles": ("ロール", "Roles"),
    "admin.venue": ("所属会場", "Venue"),
    "admin.active": ("有効", "Active"),
    "admin.new_password": (
        "新しいパスワード（変更するときだけ）",
        "New password (only to change it)",
    ),
    "admin.password_again": (
        "入力したパスワードは表示しません。もう一度入力してください",
        "The password typed is not shown again: please type it again",
    ),
    "admin.saved": ("保存しました", "Saved"),
    "audit.case.create": ("受付を登録", "Case registered"),
    "audit.case.view": ("記録を表示（API）", "Case viewed (API)"),
    "audit.case.update": ("相談内容を変更", "Concerns changed"),
    "audit.case.page": ("記録を表示", "Case viewed"),
    "audit.case.board_status": ("当日の状況を変更", "Board status changed"),
    "audit.consent.give": ("同意を記録", "Consent recorded"),
    "audit.consent.withdraw": ("同意の撤回を記録", "Consent withdrawn"),
    "audit.referral.accept": ("紹介を受けた", "Referral accepted"),
    "audit.referral.decline": ("紹介をお断り", "Referral declined"),
    "audit.referral.start": ("支援を開始", "Support started"),
    "audit.referral.close": ("支援を終結", "Support closed"),
    "staffrole.intake": ("受付", "Intake"),
    "staffrole.programme": ("窓口担当", "Programme"),
    "staffrole.coordinator": ("CSW 調整役", "Coordinator"),
    "staffrole.food_desk": ("食料品配布", "Food desk"),
    "staffrole.food_desk_lead": ("食料品配布リーダー（在庫の管理）", "Food desk lead (stock)"),
    "staffrole.admin": ("管理者", "Admin"),
    "staffrole.auditor": ("監査", "Auditor"),
    "staffrole.manager": ("事務局（報告の閲覧）", "Manager (reports)"),
    "staffrole.privacy_officer": ("個人情報の開示・消去の担当", "Privacy officer"),
    "nav.reports": ("報告", "Reports"),
    "nav.audit": ("監査", "Audit"),
    "audit.title": ("操作の記録の検索", "Search the audit log"),
    "audit.case_id": ("相談ID", "Case id"),
    "audit.resident_id": ("相談者ID", "Resident id"),
    "audit.username": ("職員", "Staff"),
    "audit.from": ("から", "From"),
    "audit.to": ("まで", "To"),
    "audit.action": ("操作", "Action"),
    "audit.search": ("検索", "Search"),
    "audit.csv": ("CSVで保存", "Download CSV"),
    "audit.cases_seen": ("表示した相談", "Cases shown"),
    "audit.target": ("対象", "Target"),
    "audit.detail": ("詳細", "Detail"),
    "audit.none": ("該当する記録はありません", "No entries"),
    "audit.intact": ("改ざんは検出されていません", "Chain intact"),
    "audit.broken": ("記録の改ざんまたは欠落を検出しました", "The chain is broken"),
    "audit.unreachable": (
        "次のサービスに問い合わせできず、その記録は含まれていません",
        "These services could not be asked; their entries are missing",
    ),
    "audit.service": ("サービス", "Service"),
}


def translator(lang: str) -> Callable[[str], str]:
    index = 1 if lang == "en" else 0

    def t(key: str) -> str:
        words = WORDS.get(key)
        return key if words is None else words[index]

    return t


def concern_label(lang: str) -> Callable[[str], str]:
    def label(code: str) -> str:
        try:
            concern = Concern(code)
        except ValueError:
            return code
        return (CONCERN_LABELS_EN if lang == "en" else CONCERN_LABELS_JA)[concern]

    return label


def programme_name(lang: str) -> Callable[[str], str]:
    def name(code: str) -> str:
        try:
            programme = Programme(code)
        except ValueError:
            return code
        return (PROGRAMME_NAMES_EN if lang == "en" else PROGRAMME_NAMES_JA)[programme]

    return name


def reason_label(lang: str) -> Callable[[Any], str]:
    """Why routing chose a programme (a reason ``{code, params}``), in the page's language."""

    def label(reason: Any) -> str:
        return render_reason(reason, lang)

    return label


def agency_label(lang: str) -> Callable[[str], str]:
    """An outside agency's name (``ExternalAgency`` code) in the page's language; a code this
    service does not know is shown as it came."""

    def label(code: str) -> str:
        words = WORDS.get("agency." + str(code))
        return str(code) if words is None else words[1 if lang == "en" else 0]

    return label
